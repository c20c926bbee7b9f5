package client_test

import (
	"errors"
	"fmt"

	"coordlab/client"
)

// A workload records a failed op as fail only when the error is definite.
func ExampleIsDefinite() {
	errs := []error{
		client.Definite("put", "r/1", "n1", errors.New("connection refused")),
		client.Indefinite("put", "r/1", "n1", client.ErrTimeout),
	}
	for _, err := range errs {
		if client.IsDefinite(err) {
			fmt.Println("fail:", err)
		} else {
			fmt.Println("info:", err)
		}
	}
	// Output:
	// fail: put r/1 on n1: definite: connection refused
	// info: put r/1 on n1: indeterminate: client: timeout
}
