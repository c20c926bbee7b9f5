// Command raftkv is an etcd-compatible key-value server on etcd's raft library:
// etcd's flags, etcd's v3 gRPC API, so etcdctl and clientv3 work unchanged.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "raftkv:", strings.TrimPrefix(err.Error(), "raftkv: "))
		os.Exit(1)
	}
}
