// Command zab is a ZooKeeper-compatible server replicated by coordlab's own
// ZAB: `zab --config zoo.cfg` (ZooKeeper's format and myid file) or the same
// settings as flags. See engines/zab/server.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err) // errors start with "zab: "
		os.Exit(1)
	}
}
