// Command zab is a ZooKeeper-compatible server replicated by coordlab's own
// ZAB: `zab --config zoo.cfg` (ZooKeeper's format and myid file) or the same
// settings as flags (`zab --help`); flags override the file. See
// engines/zab/server.
//
// A 3-member ensemble on loopback:
//
//	for i in 1 2 3; do
//	  mkdir -p /tmp/zab$i && echo $i > /tmp/zab$i/myid
//	  cat > /tmp/zab$i/zoo.cfg <<EOF
//	tickTime=1000
//	initLimit=10
//	syncLimit=5
//	dataDir=/tmp/zab$i
//	clientPort=218$i
//	4lw.commands.whitelist=*
//	zab.httpAddress=127.0.0.1:808$i
//	zab.adminAddress=:709$i
//	server.1=127.0.0.1:2881:3881
//	server.2=127.0.0.1:2882:3882
//	server.3=127.0.0.1:2883:3883
//	EOF
//	  bin/zab --config /tmp/zab$i/zoo.cfg 2>/tmp/zab$i/log &
//	done
//	/usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:2181 create /hello world
//	echo srvr | nc 127.0.0.1 2182           # Mode: leader or follower
//	curl 127.0.0.1:8083/health               # {"health":true,...}
//	curl -d '{"offset":"3s"}' 127.0.0.1:7093/admin/clock   # skew member 3's session clock
//
// zab.httpAddress serves /health, /metrics and /debug/pprof only.
// zab.adminAddress (off by default; ":port" binds 127.0.0.1) serves POST
// /admin/clock, which has no authentication and can expire every session:
// keep it on loopback or a network only the lab reaches.
//
// Every setting ZooKeeper 3.8 documents is honoured, refused, or inert
// (ZooKeeper's own tuning: threads, caches, preallocation, logging; named
// in one info line at start); docs/COMPATIBILITY.md lists each. A refused
// setting, an unknown setting or a bad value exits 1 with one line naming
// it. So does a setting that asks for
// protection zab does not give: sslQuorum=true and ssl.quorum.* (keep the
// quorum and election ports on a network only the members reach),
// portUnification=true, ssl.crl/ssl.ocsp=true, an authProvider.N other
// than digest or ip, quorum.auth.*Sasl=true, sessionRequireClientSASLAuth=true
// and enforce.auth.enabled=true (starting anyway would fail open). Their
// "false" values are fine.
//
// TLS for clients is ZooKeeper 3.8's: secureClientPort with
// ssl.keyStore.* and ssl.trustStore.* (PEM or PKCS12), ssl.clientAuth
// (need by default), ssl.protocol, ssl.enabledProtocols, ssl.ciphersuites
// and ssl.hostnameVerification. The superuser's digest is read from
// -Dzookeeper.DigestAuthenticationProvider.superDigest=super:<base64 sha1>
// in SERVER_JVMFLAGS or JVMFLAGS, as zkServer.sh passes it, or from
// zoo.cfg. ZAB_LOG_LEVEL=debug|info|warn|error sets
// the log level.
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
