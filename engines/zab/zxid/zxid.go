// Package zxid is the ZooKeeper transaction id, shared by the zab core
// (package zab), the znode tree (package znode) and the server, so that a
// zxid has one type, one order and one printed form everywhere.
//
// A zxid is the leader epoch in the high 32 bits and a counter in the low 32
// bits. It is unsigned here; ZooKeeper's wire and snapshot formats carry it
// as a jute long (int64), so encoders convert at that boundary only
// (int64(z), Zxid(v)), which round-trips every value.
package zxid

import "fmt"

// Zxid is a ZooKeeper transaction id: epoch<<32 | counter. The first
// proposal of epoch e is Make(e, 1); Make(e, 0) names "the start of epoch e"
// and has no transaction behind it.
type Zxid uint64

// Make builds a Zxid from an epoch and a counter.
func Make(epoch, counter uint32) Zxid { return Zxid(uint64(epoch)<<32 | uint64(counter)) }

// Epoch returns the leader epoch that assigned z.
func (z Zxid) Epoch() uint32 { return uint32(z >> 32) }

// Counter returns the position of z within its epoch.
func (z Zxid) Counter() uint32 { return uint32(z) }

// String formats z as epoch:counter in hex (0x1_00000003 is "1:3"): the
// epoch boundary shows at a glance in logs and traces.
func (z Zxid) String() string { return fmt.Sprintf("%x:%x", z.Epoch(), z.Counter()) }

// Hex formats z as ZooKeeper prints it in srvr, stat and its logs:
// "0x100000003".
func (z Zxid) Hex() string { return fmt.Sprintf("0x%x", uint64(z)) }
