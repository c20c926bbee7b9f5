package history_test

import (
	"fmt"
	"os"

	"coordlab/history"
)

func Example() {
	w := history.NewWriter(os.Stdout)
	w.Append(history.Op{Process: 0, Type: history.Invoke, F: history.FWrite, Key: "r/1", Value: history.Str("3"), Time: 10})
	w.Append(history.Op{Process: history.NemesisProcess, Type: history.Info, F: "kill", Node: "n2", Time: 15})
	w.Append(history.Op{Process: 0, Type: history.OK, F: history.FWrite, Key: "r/1", Value: history.Str("3"), Version: 8, Time: 20})
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"index":0,"process":0,"type":"invoke","f":"write","key":"r/1","value":"3","time_ns":10}
	// {"index":1,"process":"nemesis","type":"info","f":"kill","node":"n2","time_ns":15}
	// {"index":2,"process":0,"type":"ok","f":"write","key":"r/1","value":"3","version":8,"time_ns":20}
}
