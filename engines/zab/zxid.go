package zab

import "fmt"

// Zxid is a ZooKeeper transaction id: the leader epoch in the high 32 bits and
// a counter in the low 32 bits. The first proposal of epoch e is
// MakeZxid(e, 1); MakeZxid(e, 0) names "the start of epoch e" and has no
// transaction behind it (it is what a follower ACKs for NEWLEADER).
type Zxid uint64

// MakeZxid builds a Zxid from an epoch and a counter.
func MakeZxid(epoch, counter uint32) Zxid { return Zxid(uint64(epoch)<<32 | uint64(counter)) }

// Epoch returns the leader epoch that assigned z.
func (z Zxid) Epoch() uint32 { return uint32(z >> 32) }

// Counter returns the position of z within its epoch.
func (z Zxid) Counter() uint32 { return uint32(z) }

// String formats z as epoch:counter in hex, as ZooKeeper's logs do (0x1_00000003 is "1:3").
func (z Zxid) String() string { return fmt.Sprintf("%x:%x", z.Epoch(), z.Counter()) }

// maxCounter is the highest counter a leader assigns. ZooKeeper (ZOOKEEPER-1277)
// refuses to propose counter 0xffffffff and forces a new epoch instead.
const maxCounter = 0xfffffffe
