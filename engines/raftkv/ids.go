package raftkv

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// MemberID derives a member ID as etcd does (membership.NewMember): sha1 of the
// sorted peer URLs, the cluster token and, for members added at run time, the
// addition time in Unix seconds; the first 8 bytes big-endian.
func MemberID(peerURLs []string, token string, added *time.Time) uint64 {
	b := []byte(strings.Join(sortedCopy(peerURLs), ""))
	b = append(b, token...)
	if added != nil {
		b = append(b, fmt.Sprintf("%d", added.Unix())...)
	}
	sum := sha1.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// ClusterID derives the cluster ID from the member IDs as etcd does
// (RaftCluster.genID): sha1 of the sorted IDs as 8-byte big-endian values.
func ClusterID(memberIDs []uint64) uint64 {
	ids := slices.Clone(memberIDs)
	slices.Sort(ids)
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	sum := sha1.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// idGen makes unique request ids as etcd's idutil.Generator: the low 16 bits of
// the member id on top, then a counter that starts at the current time in
// milliseconds shifted by 8, so restarts do not reuse ids.
type idGen struct {
	prefix uint64
	suffix atomic.Uint64
}

func newIDGen(member uint64, now time.Time) *idGen {
	g := &idGen{prefix: (member & 0xffff) << 48}
	g.suffix.Store(uint64(now.UnixMilli()) << 8 & (1<<48 - 1))
	return g
}

func (g *idGen) next() uint64 {
	return g.prefix | (g.suffix.Add(1) & (1<<48 - 1))
}
