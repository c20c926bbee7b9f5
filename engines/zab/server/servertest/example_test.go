package servertest_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"coordlab/engines/zab/server/servertest"
)

// Start three members, find the leader, SIGKILL it and wait for the next
// one. (Compiled, not run: it builds cmd/zab and starts processes.)
func Example() {
	dir, _ := os.MkdirTemp("", "zab-example")
	defer os.RemoveAll(dir)
	bin, err := servertest.Build(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := servertest.New(bin, dir, 3, servertest.Options{TickTime: 1000})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.StopAll()
	if err := e.StartAll(); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader, err := e.WaitServing(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	e.Kill(leader)
	next, err := e.WaitServing(ctx)
	fmt.Println(next != leader, err, e.ClientAddrs())
}
