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
	// AdminPort serves the engine's admin endpoint (clock skew) when the
	// target serves one (Target.ServesAdmin); 0 otherwise.
	AdminPort int `json:"admin_port,omitempty"`
	// AdminBind is the host the admin endpoint listens on when it is not
	// Host: the docker runtime binds 0.0.0.0 inside the container and
	// reaches it at Host.
	AdminBind string `json:"admin_bind,omitempty"`
	// Dir is the member's directory: its data dir and log live there.
	Dir string `json:"dir"`
}

// AdminListen is host:port the admin endpoint binds ("" when none).
func (m Member) AdminListen() string {
	if m.AdminPort == 0 {
		return ""
	}
	h := m.AdminBind
	if h == "" {
		h = m.Host
	}
	return net.JoinHostPort(h, strconv.Itoa(m.AdminPort))
}

// AdminURL is where the lab reaches the admin endpoint from the host;
// ErrNoAdmin when the member serves none.
func (m Member) AdminURL() (string, error) {
	if m.AdminPort == 0 {
		return "", fmt.Errorf("%w: member %s serves none", ErrNoAdmin, m.Name)
	}
	return "http://" + net.JoinHostPort(m.Host, strconv.Itoa(m.AdminPort)), nil
}

// DefaultAdminPort is the admin endpoint's port for members with an address
// of their own (network namespaces, containers).
const DefaultAdminPort = 2390

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

// Capabilities says which fault primitives a runtime offers here.
type Capabilities struct {
	// Kill: Signal(SignalKill) and Restart.
	Kill bool `json:"kill"`
	// Pause: Signal(SignalStop) and Signal(SignalCont).
	Pause bool `json:"pause"`
	// Firewall: Firewall, which partitions and packet loss are made of.
	Firewall bool `json:"firewall"`
	// PauseBy names how a member is frozen ("sigstop", "docker-pause"):
	// the history records it, since a process can observe SIGCONT.
	PauseBy string `json:"pause_by,omitempty"`
	// Why explains missing capabilities ("partitions need root").
	Why string `json:"why,omitempty"`
	// LoseUnsynced: LoseUnsynced, which needs the members' data
	// directories mounted through package lazyfs (FUSE, root).
	LoseUnsynced bool `json:"lose_unsynced"`
	// LoseUnsyncedWhy explains why LoseUnsynced is missing.
	LoseUnsyncedWhy string `json:"lose_unsynced_why,omitempty"`
}

// Signal is what Runtime.Signal delivers to a member.
type Signal int

// Signals.
const (
	// SignalKill kills the member at once (SIGKILL); it stays down until
	// Restart.
	SignalKill Signal = 1 + iota
	// SignalStop freezes every thread of the member (SIGSTOP to its
	// process group, or the cgroup freezer).
	SignalStop
	// SignalCont thaws a frozen member.
	SignalCont
)

func (s Signal) String() string {
	switch s {
	case SignalKill:
		return "kill"
	case SignalStop:
		return "stop"
	case SignalCont:
		return "cont"
	}
	return fmt.Sprintf("Signal(%d)", int(s))
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

// Runtime runs the members of one cluster and offers the primitives faults
// are made of: signal a member, restart it, load a firewall script into its
// network namespace, name that namespace, reach its admin endpoint, drop
// what a killed member did not fsync. It knows no fault: package
// faults composes these. Members are named "n1".."nN". A Runtime is used for
// one cluster: Start once, then faults, then Stop (which may be called twice
// and always removes everything the runtime created). Its methods are safe
// for concurrent use.
type Runtime interface {
	// Name is the runtime's name ("local", "docker").
	Name() string
	// Capabilities says which primitives this runtime offers here.
	Capabilities() Capabilities
	// Start launches an n-member cluster of the target and returns once every
	// member serves and the cluster has a leader.
	Start(ctx context.Context, t Target, n int) ([]Member, error)
	// Members returns the members started (nil before Start).
	Members() []Member
	// Signal delivers sig to a member. Killing or signalling a member that
	// is down is a no-op; ErrUnsupported when the runtime cannot.
	Signal(ctx context.Context, name string, sig Signal) error
	// Restart starts a killed member again with the same data and waits until
	// it serves. Restarting a running member is a no-op.
	Restart(ctx context.Context, name string) error
	// LoseUnsynced drops what a member that is down (killed) wrote to its
	// data directory without fsyncing it, as a power cut would, and says
	// what it dropped: afterwards the directory holds exactly what was
	// fsynced. ErrUnsupported when the runtime cannot
	// (Capabilities.LoseUnsynced) or did not mount the data directories
	// for it.
	LoseUnsynced(ctx context.Context, name string) (lost string, err error)
	// Firewall replaces the member's nft table `inet coordlab` with script
	// (see NFTScript), inside the member's own network namespace; the
	// runtime keeps it in force across a restart. ErrUnsupported when the
	// members have no namespace of their own.
	Firewall(ctx context.Context, name, script string) error
	// Netns is a path naming the member's network namespace
	// ("/var/run/netns/<name>", "/proc/<pid>/ns/net"), for code that enters
	// it (setns) to open a socket there, as the latency fault's delayer
	// does. It names the namespace the member has now: a docker restart
	// makes a new one. ErrUnsupported when the members have no namespace
	// of their own.
	Netns(ctx context.Context, name string) (string, error)
	// AdminURL is the base URL ("http://10.77.3.1:2390") at which the lab
	// reaches a member's admin endpoint; ErrNoAdmin when the member serves
	// none (the real etcd and ZooKeeper, or TargetOptions.Admin unset).
	AdminURL(name string) (string, error)
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
