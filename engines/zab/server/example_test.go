package server_test

import (
	"fmt"
	"strings"

	"coordlab/engines/zab/server"
)

// A ZooKeeper user's zoo.cfg is read as is; settings zab does not use are
// reported so the caller can log one warning line.
func ExampleParseZooCfg() {
	cfg := server.DefaultConfig()
	ignored, err := server.ParseZooCfg(&cfg, strings.NewReader(`
tickTime=2000
dataDir=/var/lib/zookeeper
clientPort=2181
autopurge.purgeInterval=1
server.1=10.0.0.1:2888:3888
server.2=10.0.0.2:2888:3888
server.3=10.0.0.3:2888:3888
`), "zoo.cfg")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.ID = 2
	fmt.Println(cfg.Validate(), cfg.ClientAddr(), len(cfg.Servers), cfg.MinSession(), cfg.MaxSession(), ignored)
	// Output: <nil> 127.0.0.1:2181 3 4s 40s [autopurge.purgeInterval]
}
