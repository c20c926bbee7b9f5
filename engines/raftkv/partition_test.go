package raftkv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// nftTable is a table of our own in the host netns; deleting it heals.
type nftTable struct {
	t    *testing.T
	name string
}

func nft(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("nft", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newNftTable(t *testing.T) *nftTable {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("partition test needs root (nft)")
		}
		t.Skip("needs root for nft")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("partition test needs nft")
		}
		t.Skip("nft not installed")
	}
	tb := &nftTable{t: t, name: fmt.Sprintf("raftkvtest%d", rand.Uint32())}
	nft(t, "add", "table", "inet", tb.name)
	nft(t, "add chain inet "+tb.name+" out { type filter hook output priority -10; policy accept; }")
	t.Cleanup(tb.heal)
	return tb
}

// cut drops traffic from a to b.
func (tb *nftTable) cut(a, b string) {
	nft(tb.t, "add", "rule", "inet", tb.name, "out", "ip", "saddr", a, "ip", "daddr", b, "drop")
}

func (tb *nftTable) heal() {
	_ = exec.Command("nft", "delete", "table", "inet", tb.name).Run()
}

// newAddressedCluster starts three members, each on its own loopback
// address of a random 127.x.y.0/24 (members dial from their own address, so
// nft rules by source address cut them apart); tweak, if set, adjusts
// member i's config first. It returns the cluster and the addresses.
func newAddressedCluster(t *testing.T, tweak func(i int, cfg *Config)) (*testCluster, []string) {
	t.Helper()
	netPrefix := fmt.Sprintf("127.%d.%d.", 100+rand.IntN(100), 1+rand.IntN(250))
	var initial []InitialMember
	var ips []string
	for i := range 3 {
		ip := fmt.Sprintf("%s%d", netPrefix, i+1)
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatalf("cannot bind %s: %v", ip, err)
		}
		initial = append(initial, InitialMember{Name: fmt.Sprintf("m%d", i), PeerURLs: []string{"http://" + ln.Addr().String()}})
		ips = append(ips, ip)
		ln.Close()
	}
	c := &testCluster{t: t, servers: make([]*Server, 3)}
	for i := range 3 {
		cfg := memberConfig(t, initial[i].Name, initial[i].PeerURLs[0], initial, t.TempDir())
		if tweak != nil {
			tweak(i, &cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	for i := range 3 {
		c.start(i)
	}
	t.Cleanup(c.stopAll)
	return c, ips
}

// Partitions by source address only work if members dial from their own
// address: isolate the leader's IP and check that the others move on and
// that it catches up after the heal.
func TestPartitionBySourceAddress(t *testing.T) {
	tb := newNftTable(t)
	c, ips := newAddressedCluster(t, nil)
	lead := c.waitLeader()
	mustPut(t, c.servers[lead], "before", "cut")
	for i := range 3 {
		if i != lead {
			tb.cut(ips[lead], ips[i])
			tb.cut(ips[i], ips[lead])
		}
	}
	old := c.servers[lead]
	waitFor(t, "a new leader among the majority", func() bool {
		for i, s := range c.servers {
			if i != lead && s.Leader() != 0 && s.Leader() != old.ID() {
				return true
			}
		}
		return false
	})
	waitFor(t, "the isolated leader to step down (CheckQuorum)", func() bool { return old.Leader() != old.ID() })
	var newLead *Server
	for i, s := range c.servers {
		if i != lead && s.Leader() == s.ID() {
			newLead = s
		}
	}
	if newLead == nil {
		for i, s := range c.servers {
			if i != lead {
				newLead = s
			}
		}
	}
	mustPut(t, newLead, "during", "cut")
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := put(short, old, "isolated", "x"); err == nil {
		t.Fatal("a put on the isolated old leader succeeded")
	}
	tb.heal()
	waitFor(t, "the old leader to rejoin", func() bool { return old.Leader() != 0 })
	mustGet(t, old, "during", "cut")
	mustGet(t, old, "before", "cut")
}
