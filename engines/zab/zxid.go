package zab

import "coordlab/engines/zab/zxid"

// Zxid is a ZooKeeper transaction id (package zxid): the leader epoch in the
// high 32 bits and a counter in the low 32 bits. The first proposal of epoch
// e is MakeZxid(e, 1); MakeZxid(e, 0) names "the start of epoch e" and has no
// transaction behind it (it is what a follower ACKs for NEWLEADER).
type Zxid = zxid.Zxid

// MakeZxid builds a Zxid from an epoch and a counter.
func MakeZxid(epoch, counter uint32) Zxid { return zxid.Make(epoch, counter) }

// maxCounter is the highest counter a leader assigns. ZooKeeper (ZOOKEEPER-1277)
// refuses to propose counter 0xffffffff and forces a new epoch instead.
const maxCounter = 0xfffffffe
