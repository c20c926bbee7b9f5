package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Member is one member of a started cluster.
type Member struct {
	// Name is "n1".."nN"; ID is its 1-based index (ZooKeeper's myid).
	Name string `json:"name"`
	ID   int    `json:"id"`
	// Host is the member's own IP address: peers and clients reach it there.
	Host string `json:"host"`
	// ClientPort serves clients (etcd 2379, ZooKeeper 2181 by default).
	ClientPort int `json:"client_port"`
	// PeerPort carries replication (etcd 2380, ZooKeeper 2888).
	PeerPort int `json:"peer_port"`
	// ElectionPort is ZooKeeper's leader-election port (3888); 0 for etcd.
	ElectionPort int `json:"election_port,omitempty"`
	// Dir is the member's directory: its data dir and log live there.
	Dir string `json:"dir"`
}

// ClientAddr is host:port of the member's client endpoint.
func (m Member) ClientAddr() string {
	return net.JoinHostPort(m.Host, strconv.Itoa(m.ClientPort))
}

// DataDir is where the member keeps its data (kept across restarts).
func (m Member) DataDir() string { return m.Dir + "/data" }

// LogPath is the file the member's stdout and stderr go to.
func (m Member) LogPath() string { return m.Dir + "/output.log" }

// Role is what a member says it is.
type Role int

// Roles.
const (
	RoleLeader Role = 1 + iota
	RoleFollower
	RoleOther // serving but neither (e.g. ZooKeeper "observer", "standalone")
)

func (r Role) String() string {
	switch r {
	case RoleLeader:
		return "leader"
	case RoleFollower:
		return "follower"
	case RoleOther:
		return "other"
	}
	return "unknown"
}

// Capabilities says which faults a runtime can inject.
type Capabilities struct {
	Kill      bool `json:"kill"`
	Pause     bool `json:"pause"`
	Partition bool `json:"partition"`
	Loss      bool `json:"loss"`
	// Why explains missing capabilities ("partitions need root").
	Why string `json:"why,omitempty"`
}

// Grudge is a partition: for each destination member, the members whose
// packets it drops (Jepsen's grudge). Because TCP needs both directions, a
// grudge dst->src cuts connections either way between the two.
type Grudge map[string][]string

// String renders a grudge deterministically: "n1<-n2,n3; n2<-n1".
func (g Grudge) String() string {
	dsts := make([]string, 0, len(g))
	for d := range g {
		dsts = append(dsts, d)
	}
	sort.Strings(dsts)
	var b strings.Builder
	for i, d := range dsts {
		if i > 0 {
			b.WriteString("; ")
		}
		srcs := slices.Clone(g[d])
		sort.Strings(srcs)
		fmt.Fprintf(&b, "%s<-%s", d, strings.Join(srcs, ","))
	}
	return b.String()
}

// Runtime runs the members of one cluster and injects faults into them.
// Members are named "n1".."nN". A Runtime is used for one cluster: Start once,
// then faults, then Stop (which may be called twice and always removes
// everything the runtime created).
type Runtime interface {
	// Name is the runtime's name ("local", "docker").
	Name() string
	// Capabilities says which faults this runtime can inject.
	Capabilities() Capabilities
	// Start launches an n-member cluster of the target and returns once every
	// member serves and the cluster has a leader.
	Start(ctx context.Context, t Target, n int) ([]Member, error)
	// Members returns the members started (nil before Start).
	Members() []Member
	// Kill sends SIGKILL to a member (no-op if it is already down).
	Kill(ctx context.Context, name string) error
	// Restart starts a killed member again with the same data and waits until
	// it serves. Restarting a running member is a no-op.
	Restart(ctx context.Context, name string) error
	// Pause freezes a member (SIGSTOP); Resume thaws it (SIGCONT).
	Pause(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
	// Partition replaces the current partition with g; Heal removes it.
	Partition(ctx context.Context, g Grudge) error
	Heal(ctx context.Context) error
	// Loss drops percent (0-100) of the packets the named members receive
	// from their peers; percent 0 removes the loss.
	Loss(ctx context.Context, percent int, names []string) error
	// Leader returns the name of the member that reports being leader.
	Leader(ctx context.Context) (string, error)
	// Stop kills every member and removes what the runtime created.
	Stop(ctx context.Context) error
}

// Names returns the member names n1..nN.
func Names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "n" + strconv.Itoa(i+1)
	}
	return out
}
