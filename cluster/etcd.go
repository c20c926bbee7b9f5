package cluster

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdTarget runs the real etcd or our raftkv, which takes etcd's flags.
type etcdTarget struct {
	name string // "etcd" or "raftkv"
	opts TargetOptions
}

func (t *etcdTarget) Name() string       { return t.name }
func (t *etcdTarget) Protocol() Protocol { return ProtocolEtcd }

func (t *etcdTarget) binary() (string, error) {
	if t.name == "raftkv" {
		return findOurBinary("raftkv", t.opts.BinDir)
	}
	const p = "/usr/bin/etcd"
	if isExecutable(p) {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s: install Debian's etcd server: apt-get install etcd-server", ErrMissingBinary, p)
}

// ServesAdmin: raftkv, when asked to.
func (t *etcdTarget) ServesAdmin() bool { return ours(t.name) && t.opts.Admin }

func (t *etcdTarget) Check() error {
	_, err := t.binary()
	return err
}

func peerURL(m Member) string {
	return "http://" + m.Host + ":" + strconv.Itoa(m.PeerPort)
}

func clientURL(m Member) string { return "http://" + m.ClientAddr() }

func (t *etcdTarget) Command(m Member, all []Member) (Command, error) {
	bin, err := t.binary()
	if err != nil {
		return Command{}, err
	}
	if err := os.MkdirAll(m.DataDir(), 0o700); err != nil {
		return Command{}, fmt.Errorf("cluster: %s data dir: %w", m.Name, err)
	}
	initial := make([]string, len(all))
	for i, o := range all {
		initial[i] = o.Name + "=" + peerURL(o)
	}
	token := t.opts.ClusterToken
	if token == "" {
		token = "coordlab"
	}
	args := []string{
		"--name", m.Name,
		"--data-dir", m.DataDir(),
		"--listen-client-urls", clientURL(m),
		"--advertise-client-urls", clientURL(m),
		"--listen-peer-urls", peerURL(m),
		"--initial-advertise-peer-urls", peerURL(m),
		"--initial-cluster", strings.Join(initial, ","),
		"--initial-cluster-state", "new",
		"--initial-cluster-token", token,
	}
	if t.name == "etcd" {
		args = append(args, "--logger", "zap", "--log-outputs", "stderr")
	}
	if a := m.AdminListen(); a != "" && t.ServesAdmin() {
		args = append(args, "--admin-listen-url", "http://"+a)
	}
	return Command{Path: bin, Args: args}, nil
}

// Probe asks the member's Maintenance.Status: it is the leader when the
// leader it names is itself.
func (t *etcdTarget) Probe(ctx context.Context, m Member) (Role, error) {
	return probeEtcd(ctx, m.ClientAddr())
}

func probeEtcd(ctx context.Context, addr string) (Role, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{addr},
		DialTimeout: time.Second,
		Logger:      zap.NewNop(),
		Context:     ctx,
	})
	if err != nil {
		return 0, fmt.Errorf("cluster: probe %s: %w", addr, err)
	}
	defer cli.Close()
	st, err := cli.Status(ctx, addr)
	if err != nil {
		return 0, fmt.Errorf("cluster: probe %s: %w", addr, err)
	}
	switch {
	case st.Leader == 0:
		return 0, fmt.Errorf("cluster: probe %s: %w", addr, ErrNoLeader)
	case st.Header != nil && st.Leader == st.Header.MemberId:
		return RoleLeader, nil
	default:
		return RoleFollower, nil
	}
}
