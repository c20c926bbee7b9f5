package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Protocol is the client API a target speaks.
type Protocol int

// Protocols.
const (
	ProtocolEtcd      Protocol = 1 + iota // etcd v3 gRPC (clientv3)
	ProtocolZooKeeper                     // ZooKeeper wire protocol (go-zookeeper/zk)
)

func (p Protocol) String() string {
	switch p {
	case ProtocolEtcd:
		return "etcd"
	case ProtocolZooKeeper:
		return "zookeeper"
	}
	return "unknown"
}

// DefaultPorts are the ports members use when they have an address of their
// own (client, peer, election).
func (p Protocol) DefaultPorts() (client, peer, election int) {
	if p == ProtocolZooKeeper {
		return 2181, 2888, 3888
	}
	return 2379, 2380, 0
}

// Command is how to launch one member.
type Command struct {
	Path string
	Args []string
	Env  []string // added to a minimal environment
}

// Target is one system the lab can run: how to launch a member and how to
// ask it what it is. Implementations are stateless apart from their options
// and safe for concurrent use.
type Target interface {
	// Name is the target's name: etcd, zookeeper, raftkv, zab.
	Name() string
	// Protocol is the client API members serve.
	Protocol() Protocol
	// Check reports a missing program with the command that installs it.
	Check() error
	// Command writes the member's configuration files under m.Dir and
	// returns the command that runs it as a member of all. It is called
	// again, with the same arguments, on restart; it must not wipe data.
	Command(m Member, all []Member) (Command, error)
	// Probe asks a member whether it serves and which role it has.
	Probe(ctx context.Context, m Member) (Role, error)
	// ServesAdmin says whether members serve the lab's admin endpoint (our
	// engines, when TargetOptions.Admin is set). Runtimes give those
	// members an AdminPort, and Command configures the listener there.
	ServesAdmin() bool
}

// TargetOptions configure targets.
type TargetOptions struct {
	// BinDir holds our raftkv and zab binaries (`make build` puts them in
	// bin/). Empty means "look next to the coordlab executable, then in PATH".
	BinDir string
	// ClusterToken makes each run's cluster distinct (etcd's
	// --initial-cluster-token).
	ClusterToken string
	// JavaHeap is the -Xmx for ZooKeeper members (default "256m").
	JavaHeap string
	// JVMDefaults runs ZooKeeper members as Debian's zkServer.sh does: the
	// JVM's own defaults (tiered JIT up to C2, its default collector and
	// heap, or JavaHeap when set). Without it they run C1 only with the
	// serial collector in 256 MiB, which starts quickly on a small machine
	// but caps the throughput a performance figure would show.
	JVMDefaults bool
	// Admin makes our engines serve their admin endpoint (POST /admin/clock,
	// for the clock-skew fault) on a listener of its own: raftkv's
	// --admin-listen-url, zab's zab.adminAddress. The real etcd and
	// ZooKeeper have none; for them it changes nothing.
	Admin bool
}

// TargetNames lists the targets NewTarget knows, sorted.
func TargetNames() []string {
	names := make([]string, 0, len(targetTable))
	for n := range targetTable {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TargetInfo describes a target for `coordlab list`.
func TargetInfo(name string) string { return targetTable[name].about }

var targetTable = map[string]struct {
	about string
	make  func(TargetOptions) Target
}{
	"etcd": {"the real etcd (Debian etcd-server, /usr/bin/etcd)", func(o TargetOptions) Target {
		return &etcdTarget{name: "etcd", opts: o}
	}},
	"raftkv": {"our Raft KV engine (cmd/raftkv), etcd-compatible", func(o TargetOptions) Target {
		return &etcdTarget{name: "raftkv", opts: o}
	}},
	"zookeeper": {"the real ZooKeeper (Debian zookeeper, Java 17)", func(o TargetOptions) Target {
		return &zkTarget{name: "zookeeper", opts: o}
	}},
	"zab": {"our ZAB engine (cmd/zab), ZooKeeper-compatible", func(o TargetOptions) Target {
		return &zkTarget{name: "zab", opts: o}
	}},
}

// NewTarget returns the named target.
func NewTarget(name string, opts TargetOptions) (Target, error) {
	e, ok := targetTable[name]
	if !ok {
		return nil, fmt.Errorf("%w %q: want one of %s", ErrUnknownTarget, name, strings.Join(TargetNames(), ", "))
	}
	return e.make(opts), nil
}

// ours reports whether name is one of our engines.
func ours(name string) bool { return name == "raftkv" || name == "zab" }

// findOurBinary locates raftkv or zab.
func findOurBinary(name, binDir string) (string, error) {
	var tried []string
	if binDir != "" {
		p := filepath.Join(binDir, name)
		if isExecutable(p) {
			return filepath.Abs(p)
		}
		return "", fmt.Errorf("%w: %s not in --bin-dir %s: run `make build` (or go build -o %s ./cmd/%s)", ErrMissingBinary, name, binDir, binDir, name)
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		tried = append(tried, p)
		if isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	tried = append(tried, "$PATH")
	return "", fmt.Errorf("%w: %s (looked in %s): run `make build` and pass --bin-dir bin", ErrMissingBinary, name, strings.Join(tried, ", "))
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// OurBinary locates raftkv or zab as targets do: in binDir if given, else
// next to the running executable, else in $PATH.
func OurBinary(name, binDir string) (string, error) { return findOurBinary(name, binDir) }
