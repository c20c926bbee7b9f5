// Command coordlab runs Jepsen-style tests of coordination systems: it
// starts a cluster, drives a workload while injecting faults, records the
// history and checks it. See `coordlab --help`.
package main

import (
	"os"
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}
