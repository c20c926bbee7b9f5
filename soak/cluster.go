package soak

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"coordlab/client"
	"coordlab/client/etcdapi"
	"coordlab/client/zkapi"
	"coordlab/proctest"
)

// member is one server process of a cluster; proc is nil while it is down.
// Its output goes to log, appended across restarts.
type member struct {
	name string
	bin  string
	args []string
	addr string // client host:port
	log  *os.File
	proc *proctest.Process
}

func (m *member) start() error {
	if m.proc != nil {
		return nil
	}
	fmt.Fprintf(m.log, "--- soak: start %s\n", time.Now().UTC().Format(time.RFC3339Nano))
	p, err := proctest.Launch(m.bin, m.args, proctest.Options{Output: m.log})
	if err != nil {
		return err
	}
	m.proc = p
	return nil
}

// kill sends SIGKILL and waits for the process to exit.
func (m *member) kill() {
	if m.proc == nil {
		return
	}
	m.proc.Kill()
	m.proc = nil
	fmt.Fprintf(m.log, "--- soak: SIGKILL %s\n", time.Now().UTC().Format(time.RFC3339Nano))
}

// exited reports a member that died on its own (not killed by the soak).
func (m *member) exited() error {
	if m.proc == nil {
		return nil
	}
	if ok, err := m.proc.Exited(); ok {
		return fmt.Errorf("soak: %s exited on its own (%v); its log: %s", m.name, err, m.log.Name())
	}
	return nil
}

// cluster is a 3-member cluster of one engine on loopback.
type cluster interface {
	members() []*member
	// serving returns nil once member i answers as a member of a cluster
	// with a leader.
	serving(ctx context.Context, i int) error
	// leader returns the index of the member that leads, or an error.
	leader(ctx context.Context) (int, error)
	// newClient makes a workload client on member node (its name), keys
	// under prefix.
	newClient(ctx context.Context, node, prefix string) (client.Client, error)
	// digests returns one state digest per member, taken at one point of
	// the history when the cluster is quiet, or an error (retry later).
	digests(ctx context.Context) ([]string, error)
	readMode() client.ReadMode
}

func newCluster(engine, binDir, dir string, n int) (cluster, error) {
	switch engine {
	case "raftkv":
		return newRaftkv(filepath.Join(binDir, "raftkv"), dir, n)
	case "zab":
		return newZab(filepath.Join(binDir, "zab"), dir, n)
	}
	return nil, fmt.Errorf("soak: engine %q: want raftkv or zab", engine)
}

func openLog(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

func checkBinary(bin string) error {
	st, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("soak: %s: %w: build it first (make build)", bin, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("soak: %s is not an executable: build it first (make build)", bin)
	}
	return nil
}

// raftkv

type raftkvCluster struct{ ms []*member }

func newRaftkv(bin, dir string, n int) (*raftkvCluster, error) {
	if err := checkBinary(bin); err != nil {
		return nil, err
	}
	ports, err := proctest.FreePorts("127.0.0.1", 2*n)
	if err != nil {
		return nil, err
	}
	var ic []string
	for i := range n {
		ic = append(ic, fmt.Sprintf("n%d=http://127.0.0.1:%d", i+1, ports[2*i+1]))
	}
	c := &raftkvCluster{}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		cu := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])
		pu := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		log, err := openLog(dir, name)
		if err != nil {
			return nil, err
		}
		c.ms = append(c.ms, &member{name: name, bin: bin, log: log, addr: fmt.Sprintf("127.0.0.1:%d", ports[2*i]), args: []string{
			"--name", name, "--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
			"--initial-cluster", strings.Join(ic, ","), "--initial-cluster-token", "soak",
			"--heartbeat-interval", "50", "--election-timeout", "500",
			"--snapshot-count", "500", "--log-level", "warn",
		}})
	}
	return c, nil
}

func (c *raftkvCluster) members() []*member        { return c.ms }
func (c *raftkvCluster) readMode() client.ReadMode { return client.Linearizable }

func etcdClient(addr string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
}

func (c *raftkvCluster) status(ctx context.Context, i int) (*clientv3.StatusResponse, error) {
	cli, err := etcdClient(c.ms[i].addr)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return cli.Status(ctx, c.ms[i].addr)
}

func (c *raftkvCluster) serving(ctx context.Context, i int) error {
	st, err := c.status(ctx, i)
	if err != nil {
		return err
	}
	if st.Leader == 0 {
		return fmt.Errorf("%s: no leader yet", c.ms[i].name)
	}
	return nil
}

func (c *raftkvCluster) leader(ctx context.Context) (int, error) {
	for i, m := range c.ms {
		if m.proc == nil {
			continue
		}
		st, err := c.status(ctx, i)
		if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
			return i, nil
		}
	}
	return -1, errors.New("no member says it leads")
}

func (c *raftkvCluster) newClient(ctx context.Context, node, prefix string) (client.Client, error) {
	for _, m := range c.ms {
		if m.name == node {
			return etcdapi.New(etcdapi.Config{Endpoint: m.addr, Node: node, Prefix: prefix})
		}
	}
	return nil, fmt.Errorf("soak: no member %q", node)
}

// digests: etcd's HashKV at one revision on every member. The revision is
// the highest any member reports; a member still behind answers
// "future revision" and the caller retries.
func (c *raftkvCluster) digests(ctx context.Context) ([]string, error) {
	var rev int64
	for i := range c.ms {
		st, err := c.status(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("%s: status: %w", c.ms[i].name, err)
		}
		rev = max(rev, st.Header.Revision)
	}
	out := make([]string, len(c.ms))
	for i, m := range c.ms {
		cli, err := etcdClient(m.addr)
		if err != nil {
			return nil, err
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h, err := cli.HashKV(hctx, m.addr, rev)
		cancel()
		cli.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: HashKV at revision %d: %w", m.name, rev, err)
		}
		out[i] = fmt.Sprintf("rev %d hash %08x", rev, h.Hash)
	}
	return out, nil
}

// zab

type zabCluster struct{ ms []*member }

func newZab(bin, dir string, n int) (*zabCluster, error) {
	if err := checkBinary(bin); err != nil {
		return nil, err
	}
	ports, err := proctest.FreePorts("127.0.0.1", 3*n)
	if err != nil {
		return nil, err
	}
	var servers strings.Builder
	for i := range n {
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", i+1, ports[3*i+1], ports[3*i+2])
	}
	c := &zabCluster{}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		data := filepath.Join(dir, name)
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
		cfg := fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\nstandaloneEnabled=false\nreconfigEnabled=false\n%s",
			data, ports[3*i], servers.String())
		cfgPath := filepath.Join(data, "zoo.cfg")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(i+1)+"\n"), 0o644); err != nil {
			return nil, err
		}
		log, err := openLog(dir, name)
		if err != nil {
			return nil, err
		}
		c.ms = append(c.ms, &member{name: name, bin: bin, log: log, addr: fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			args: []string{"--config", cfgPath}})
	}
	return c, nil
}

func (c *zabCluster) members() []*member        { return c.ms }
func (c *zabCluster) readMode() client.ReadMode { return client.Sync }

func (c *zabCluster) serving(ctx context.Context, i int) error {
	return proctest.FourLetterWord(c.ms[i].addr, "srvr", "Mode: ")()
}

func (c *zabCluster) leader(ctx context.Context) (int, error) {
	for i, m := range c.ms {
		if m.proc != nil && proctest.FourLetterWord(m.addr, "srvr", "Mode: leader")() == nil {
			return i, nil
		}
	}
	return -1, errors.New("no member says it leads")
}

func (c *zabCluster) newClient(ctx context.Context, node, prefix string) (client.Client, error) {
	for _, m := range c.ms {
		if m.name == node {
			return zkapi.New(zkapi.Config{Server: m.addr, Node: node, Root: prefix, ReadMode: client.Sync})
		}
	}
	return nil, fmt.Errorf("soak: no member %q", node)
}

// digests: each member's whole znode tree (but /zookeeper, the server's
// own), read through a session on that member alone after a sync, hashed
// node by node: path, data, czxid, mzxid, version, children count. The
// cluster is quiet, so every member must give the same digest.
func (c *zabCluster) digests(ctx context.Context) ([]string, error) {
	out := make([]string, len(c.ms))
	for i, m := range c.ms {
		d, err := zabTreeDigest(ctx, m.addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		out[i] = d
	}
	return out, nil
}

func zabTreeDigest(ctx context.Context, addr string) (string, error) {
	conn, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for conn.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-wait.Done():
			return "", fmt.Errorf("no session within 5s (state %v)", conn.State())
		}
	}
	if _, err := conn.Sync("/"); err != nil {
		return "", fmt.Errorf("sync: %w", err)
	}
	h := sha256.New()
	nodes := 0
	var walk func(p string) error
	walk = func(p string) error {
		if p == "/zookeeper" {
			return nil
		}
		data, st, err := conn.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		kids, _, err := conn.Children(p)
		if err != nil {
			return fmt.Errorf("children %s: %w", p, err)
		}
		slices.Sort(kids)
		var num [8]byte
		h.Write([]byte(p))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(num[:], uint64(len(data)))
		h.Write(num[:])
		h.Write(data)
		for _, v := range []int64{st.Czxid, st.Mzxid, int64(st.Version), int64(len(kids))} {
			binary.BigEndian.PutUint64(num[:], uint64(v))
			h.Write(num[:])
		}
		nodes++
		for _, k := range kids {
			if err := walk(path.Join(p, k)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("/"); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d znodes sha256 %s", nodes, hex.EncodeToString(h.Sum(nil))[:16]), nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
