package etcdapi_test

import (
	"context"
	"fmt"
	"time"

	"coordlab/client"
	"coordlab/client/etcdapi"
)

// One client per logical process, pinned to one member; a failed op is
// recorded as fail only when its error is definite.
func Example() {
	c, err := etcdapi.New(etcdapi.Config{Endpoint: "http://127.0.0.1:2379", Node: "n1", ReadMode: client.Serializable})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := c.Put(ctx, "r/1", "7")
	switch {
	case err == nil:
		fmt.Println("ok at revision", v.Version)
	case client.IsDefinite(err):
		fmt.Println("fail:", err)
	default:
		fmt.Println("info:", err)
	}
}
