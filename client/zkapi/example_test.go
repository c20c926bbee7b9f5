package zkapi_test

import (
	"context"
	"fmt"
	"time"

	"coordlab/client"
	"coordlab/client/zkapi"
)

// Key "r/1" is znode /coordlab/r/1; a sync read syncs the connection first.
func Example() {
	c, err := zkapi.New(zkapi.Config{Server: "127.0.0.1:2181", Node: "z1", ReadMode: client.Sync})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ok, v, err := c.CompareAndSet(ctx, "r/1", "6", "7")
	if err != nil {
		fmt.Println("definite:", client.IsDefinite(err), err)
		return
	}
	fmt.Println("cas won:", ok, "mzxid", v.Version)
}
