// Package zkapi implements client.Client over github.com/go-zookeeper/zk
// v1.0.4, for the real ZooKeeper and for zab (which speaks its wire
// protocol).
//
// Keys map to znodes under a root: key "r/3" is "/coordlab/r/3". Get reads
// with the configured mode: Local reads straight from the member, Sync
// issues sync on the same connection first. Put sets with version -1 and
// creates the node (and its parents) when missing. CompareAndSet reads, then
// sets with the node version it read; the value compare uses the read's data.
// Versions are mzxids. Sessions are separate zk.Conns whose expiry closes
// Done. Lock and Campaign are the ephemeral-sequential recipes; the token or
// term is the node's sequence number; the election value is the node's data.
//
// go-zk v1.0.4 has no AddWatch (persistent recursive watches), so Watch uses
// the one-shot child and data watch recipe: after each notification it
// re-reads the node and reports the version it finds. Changes between a
// notification and the re-read are coalesced, as with any one-shot watch.
//
// Error classification (client.OpError.Definite): definite when the op surely
// did not take effect: every read failure; a request refused before sending
// (the connection had no session, ErrNoServer); a server answer that it did
// not apply (ZNONODE, ZBADVERSION, ZNODEEXISTS, ZNOTEMPTY, ZNOAUTH, bad
// arguments). Indeterminate: connection loss, session expiry or the deadline
// while a write was in flight, and any Lock or Campaign failure after its
// node was created (the node may have been the lowest meanwhile, so others
// saw it hold the lock or lead, even if it is gone now).
//
// New waits up to Config.ConnectTimeout (default 5 s) for a session. Without
// one it still returns a Client, whose ops fail definitely (nothing is sent)
// until go-zk establishes the session.
//
// Caveats: go-zk requests take no context; an op whose ctx ends returns at
// once while its request stays in flight on a goroutine the Client owns (Close
// waits for it). Reads report Revision 0: go-zk does not expose the reply's
// zxid. A delete's version in a watch is the parent's pzxid when exactly one
// child changed, else 0 (unknown); ZooKeeper's delete reply carries no zxid,
// so Delete reports none either.
package zkapi
