package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// zkTarget runs the real ZooKeeper or our zab, which reads ZooKeeper's
// zoo.cfg and myid.
type zkTarget struct {
	name string // "zookeeper" or "zab"
	opts TargetOptions
}

func (t *zkTarget) Name() string       { return t.name }
func (t *zkTarget) Protocol() Protocol { return ProtocolZooKeeper }

// zkJars is the classpath Debian's zkEnv.sh builds (the conf dir and
// zookeeper.jar, whose manifest names its dependencies) plus the slf4j
// binding for log4j 1.2 that Debian's log4j.properties expects.
var zkJars = []string{
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
}

const javaPath = "/usr/bin/java"

func (t *zkTarget) Check() error {
	if t.name == "zab" {
		_, err := findOurBinary("zab", t.opts.BinDir)
		return err
	}
	for _, p := range append([]string{javaPath}, zkJars...) {
		if _, err := os.Stat(p); err != nil {
			pkg := "zookeeper"
			if p == javaPath {
				pkg = "openjdk-17-jre-headless"
			}
			return fmt.Errorf("%w: %s: install Debian's ZooKeeper: apt-get install %s", ErrMissingBinary, p, pkg)
		}
	}
	return nil
}

// ServesAdmin: zab, when asked to.
func (t *zkTarget) ServesAdmin() bool { return ours(t.name) && t.opts.Admin }

// zooCfg is the configuration both ZooKeeper and zab read; admin says
// whether to add zab's admin listener (zab.adminAddress).
func zooCfg(m Member, all []Member, admin bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=1000\ninitLimit=10\nsyncLimit=5\n")
	fmt.Fprintf(&b, "dataDir=%s\n", m.DataDir())
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=%s\n", m.ClientPort, m.Host)
	fmt.Fprintf(&b, "maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n")
	fmt.Fprintf(&b, "standaloneEnabled=false\nreconfigEnabled=false\n")
	for _, o := range all {
		fmt.Fprintf(&b, "server.%d=%s:%d:%d\n", o.ID, o.Host, o.PeerPort, o.ElectionPort)
	}
	if a := m.AdminListen(); admin && a != "" {
		fmt.Fprintf(&b, "zab.adminAddress=%s\n", a)
	}
	return b.String()
}

const log4jProps = `log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Threshold=INFO
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
`

func (t *zkTarget) Command(m Member, all []Member) (Command, error) {
	if err := t.Check(); err != nil {
		return Command{}, err
	}
	if err := os.MkdirAll(m.DataDir(), 0o700); err != nil {
		return Command{}, fmt.Errorf("cluster: %s data dir: %w", m.Name, err)
	}
	confDir := filepath.Join(m.Dir, "conf")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return Command{}, fmt.Errorf("cluster: %s conf dir: %w", m.Name, err)
	}
	cfgPath := filepath.Join(confDir, "zoo.cfg")
	files := map[string]string{
		cfgPath:                            zooCfg(m, all, t.ServesAdmin()),
		filepath.Join(m.DataDir(), "myid"): strconv.Itoa(m.ID) + "\n",
	}
	if t.name == "zookeeper" {
		files[filepath.Join(confDir, "log4j.properties")] = log4jProps
	}
	for p, s := range files {
		// A restart finds them written: rewriting the same bytes would
		// only dirty the member's data directory (a lazyfs mount).
		if cur, err := os.ReadFile(p); err == nil && string(cur) == s {
			continue
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			return Command{}, fmt.Errorf("cluster: %s config: %w", m.Name, err)
		}
	}
	if t.name == "zab" {
		bin, err := findOurBinary("zab", t.opts.BinDir)
		if err != nil {
			return Command{}, err
		}
		return Command{Path: bin, Args: []string{"--config", cfgPath}}, nil
	}
	var jvm []string
	switch {
	case t.opts.JVMDefaults && t.opts.JavaHeap != "":
		jvm = []string{"-Xmx" + t.opts.JavaHeap}
	case !t.opts.JVMDefaults:
		heap := t.opts.JavaHeap
		if heap == "" {
			heap = "256m"
		}
		jvm = []string{"-Xmx" + heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
	}
	cp := strings.Join(append([]string{confDir}, zkJars...), ":")
	return Command{Path: javaPath, Args: append(jvm,
		"-Dzookeeper.log.dir="+m.Dir,
		"-Dzookeeper.root.logger=INFO,CONSOLE",
		"-Dlog4j.configuration=file:"+filepath.Join(confDir, "log4j.properties"),
		"-Dzookeeper.admin.enableServer=false",
		"-Dzookeeper.4lw.commands.whitelist=*",
		"-cp", cp,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath,
	)}, nil
}

// Probe sends the `srvr` four-letter word and reads "Mode: leader|follower".
func (t *zkTarget) Probe(ctx context.Context, m Member) (Role, error) {
	return probeZK(ctx, m.ClientAddr())
}

func probeZK(ctx context.Context, addr string) (Role, error) {
	out, err := FourLetterWord(ctx, addr, "srvr")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		mode, ok := strings.CutPrefix(sc.Text(), "Mode: ")
		if !ok {
			continue
		}
		switch strings.TrimSpace(mode) {
		case "leader":
			return RoleLeader, nil
		case "follower":
			return RoleFollower, nil
		default:
			return RoleOther, nil
		}
	}
	return 0, fmt.Errorf("cluster: probe %s: not serving: %q", addr, strings.TrimSpace(out))
}

// FourLetterWord sends a ZooKeeper four-letter word and returns the answer.
func FourLetterWord(ctx context.Context, addr, word string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("cluster: %s %s: %w", word, addr, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			return "", fmt.Errorf("cluster: %s %s: %w", word, addr, err)
		}
	}
	if _, err := c.Write([]byte(word)); err != nil {
		return "", fmt.Errorf("cluster: %s %s: %w", word, addr, err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break // EOF ends the answer; a timeout leaves what we got
		}
	}
	return b.String(), nil
}
