// Package clienttest is test scaffolding for client adapters: it starts a
// real single-member etcd or a standalone ZooKeeper on free loopback ports in
// a temp dir (with proctest: stopped by t.Cleanup, paused until every thread
// is stopped), and Conformance runs the same semantic
// checks against any client.Client.
//
// When the binary is missing the test is skipped, except under CI=true, where
// it fails naming the Debian package to install.
//
// Caveats: servers are single members, so tests here cover the client's
// semantics and error classification, not replication.
package clienttest
