package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"coordlab/cluster"
	"coordlab/lazyfs"
	"coordlab/proctest"
)

// Mode selects how members are networked.
type Mode int

// Modes.
const (
	ModeAuto     Mode = iota // netns as root, loopback otherwise
	ModeNetns                // one network namespace per member (root)
	ModeLoopback             // processes on 127.0.0.x (no partitions or loss)
)

func (m Mode) String() string {
	switch m {
	case ModeNetns:
		return "netns"
	case ModeLoopback:
		return "loopback"
	}
	return "auto"
}

// Config configures a local runtime.
type Config struct {
	// Dir is the run directory; members live in Dir/nodes/<name>. Required.
	Dir string
	// Mode is netns, loopback, or auto (default).
	Mode Mode
	// StartTimeout bounds Start's wait for a serving cluster with a leader
	// (default 60s).
	StartTimeout time.Duration
	// RestartTimeout bounds Restart's wait for the member to serve again;
	// when it passes, Restart logs and returns nil if the process lives (a
	// member cut off by a partition may not serve until healed). Default 15s.
	RestartTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL
	// (default 2s).
	StopGrace time.Duration
	// Logger receives state changes; nil discards.
	Logger *slog.Logger
	// LazyFS mounts each member's data directory over itself through
	// package lazyfs for the member's life, so that LoseUnsynced can drop
	// what the member did not fsync. It needs root and /dev/fuse.
	LazyFS bool
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("local: Config.Dir: want the run directory, got empty")
	}
	if c.Mode == ModeNetns && os.Geteuid() != 0 {
		return fmt.Errorf("local: Config.Mode netns: %w (run as root or use the loopback mode)", ErrNeedRoot)
	}
	if c.LazyFS {
		if why := lazyfs.Unavailable(); why != "" {
			return fmt.Errorf("local: Config.LazyFS: %s", why)
		}
	}
	if c.StartTimeout < 0 || c.RestartTimeout < 0 || c.StopGrace < 0 {
		return errors.New("local: Config timeouts: want >= 0")
	}
	return nil
}

type proc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has been waited for
	err    error         // exit status, valid after done
	killed bool          // we killed it (an exit is expected)
	paused bool
}

type member struct {
	m    cluster.Member
	ns   string     // network namespace, "" in loopback mode
	proc *proc      // nil when down
	lazy *lazyfs.FS // the data directory's mount (Config.LazyFS)
	// started: the member has been started once (its configuration
	// files made durable).
	started bool
}

// Runtime is the local runtime. Create it with New.
type Runtime struct {
	cfg     Config
	log     *slog.Logger
	mode    Mode
	mu      sync.Mutex
	target  cluster.Target
	rec     runRecord
	nw      *network
	mems    []*member
	byName  map[string]*member
	stopped bool
}

// New returns a runtime; nothing is created before Start.
func New(cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.RestartTimeout == 0 {
		cfg.RestartTimeout = 15 * time.Second
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mode := cfg.Mode
	if mode == ModeAuto {
		mode = ModeLoopback
		if os.Geteuid() == 0 {
			mode = ModeNetns
		}
	}
	return &Runtime{cfg: cfg, log: log.With("runtime", "local", "mode", mode.String()), mode: mode}, nil
}

// Name is "local".
func (r *Runtime) Name() string { return "local" }

// Mode is the networking mode in effect.
func (r *Runtime) Mode() Mode { return r.mode }

// RunID is the id in this run's namespace names ("" before Start or in
// loopback mode).
func (r *Runtime) RunID() string { return r.rec.ID }

// Capabilities: everything in netns mode; kill and pause on loopback.
func (r *Runtime) Capabilities() cluster.Capabilities {
	c := cluster.Capabilities{Kill: true, Pause: true, PauseBy: "sigstop"}
	if r.mode == ModeNetns {
		c.Firewall = true
	} else {
		c.Why = "partitions and loss need network namespaces, which need root: run as root"
	}
	c.LoseUnsyncedWhy = lazyfs.Unavailable()
	c.LoseUnsynced = c.LoseUnsyncedWhy == ""
	return c
}

// Members returns the members started.
func (r *Runtime) Members() []cluster.Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]cluster.Member, len(r.mems))
	for i, m := range r.mems {
		out[i] = m.m
	}
	return out
}

// Start creates the network (netns mode), starts n members and waits until
// they serve and one is leader. On failure everything is removed.
func (r *Runtime) Start(ctx context.Context, t cluster.Target, n int) (ms []cluster.Member, err error) {
	if n < 1 {
		return nil, fmt.Errorf("local: Start: want n >= 1, got %d", n)
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.target != nil || r.stopped {
		r.mu.Unlock()
		return nil, errors.New("local: Start: runtime already used; make a new one")
	}
	r.target = t
	r.mu.Unlock()
	defer func() {
		if err != nil {
			if serr := r.Stop(context.Background()); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}()
	if err := r.layout(ctx, t, n); err != nil {
		return nil, err
	}
	r.mu.Lock()
	for _, m := range r.mems {
		if err := r.startLocked(m); err != nil {
			r.mu.Unlock()
			return nil, err
		}
	}
	all := r.membersLocked()
	r.mu.Unlock()
	r.log.Info("members started", "target", t.Name(), "n", n, "run", r.rec.ID)
	wctx, cancel := context.WithTimeout(ctx, r.cfg.StartTimeout)
	defer cancel()
	if err := r.waitReady(wctx, all, all); err != nil {
		return nil, err
	}
	r.log.Info("cluster ready", "target", t.Name())
	return all, nil
}

func (r *Runtime) membersLocked() []cluster.Member {
	out := make([]cluster.Member, len(r.mems))
	for i, m := range r.mems {
		out[i] = m.m
	}
	return out
}

// layout assigns addresses and ports and, in netns mode, builds the network.
func (r *Runtime) layout(ctx context.Context, t cluster.Target, n int) error {
	cp, pp, ep := t.Protocol().DefaultPorts()
	var hosts []string
	if r.mode == ModeNetns {
		rec, err := reserve()
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.rec = rec
		r.nw = &network{run: rec.ID, subnet: rec.Subnet, n: n}
		r.mu.Unlock()
		if err := r.nw.setup(ctx); err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			hosts = append(hosts, memberIP(rec.Subnet, i))
		}
	} else {
		for i := 1; i <= n; i++ {
			hosts = append(hosts, "127.0.0."+strconv.Itoa(10+i))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byName = map[string]*member{}
	for i := 1; i <= n; i++ {
		m := cluster.Member{
			Name: "n" + strconv.Itoa(i), ID: i, Host: hosts[i-1],
			ClientPort: cp, PeerPort: pp, ElectionPort: ep,
			Dir: filepath.Join(r.cfg.Dir, "nodes", "n"+strconv.Itoa(i)),
		}
		if t.ServesAdmin() {
			m.AdminPort = cluster.DefaultAdminPort
		}
		if r.mode == ModeLoopback {
			ports, err := proctest.FreePorts(m.Host, 4)
			if err != nil {
				return err
			}
			m.ClientPort, m.PeerPort = ports[0], ports[1]
			if ep != 0 {
				m.ElectionPort = ports[2]
			}
			if m.AdminPort != 0 {
				m.AdminPort = ports[3]
			}
		}
		abs, err := filepath.Abs(m.Dir)
		if err != nil {
			return fmt.Errorf("local: member dir: %w", err)
		}
		m.Dir = abs
		if err := os.MkdirAll(m.Dir, 0o755); err != nil {
			return fmt.Errorf("local: member dir: %w", err)
		}
		mem := &member{m: m}
		if r.mode == ModeNetns {
			mem.ns = nsName(r.rec.ID, i)
		}
		r.mems = append(r.mems, mem)
		r.byName[m.Name] = mem
		if r.cfg.LazyFS {
			if err := os.MkdirAll(m.DataDir(), 0o700); err != nil {
				return fmt.Errorf("local: %s data dir: %w", m.Name, err)
			}
			fs, err := lazyfs.Mount(m.DataDir())
			if err != nil {
				return fmt.Errorf("local: %s: %w", m.Name, err)
			}
			mem.lazy = fs
		}
	}
	return nil
}

// startLocked launches member m's process. r.mu is held.
func (r *Runtime) startLocked(m *member) error {
	all := r.membersLocked()
	c, err := r.target.Command(m.m, all)
	if err != nil {
		return err
	}
	if m.lazy != nil && !m.started {
		// What the lab wrote there (ZooKeeper's myid) is configuration:
		// durable, not the member's to lose. Only at the first start: a
		// restart must not make what the member left unsynced durable
		// (its rewrite of the same file is undone to the same content).
		if err := m.lazy.Sync(); err != nil {
			return fmt.Errorf("local: %s: %w", m.m.Name, err)
		}
	}
	m.started = true
	path, args := c.Path, c.Args
	if m.ns != "" {
		args = append([]string{"--net=/var/run/netns/" + m.ns, "--", path}, args...)
		path = "nsenter"
	}
	logf, err := os.OpenFile(m.m.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("local: %s log: %w", m.m.Name, err)
	}
	fmt.Fprintf(logf, "--- coordlab: starting %s at %s: %s %v\n", m.m.Name, time.Now().UTC().Format(time.RFC3339Nano), c.Path, c.Args)
	cmd := exec.Command(path, args...)
	cmd.Dir = m.m.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + m.m.Dir}, c.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("local: start %s: %w", m.m.Name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	m.proc = p
	go func() { // owned by the runtime: Stop waits on p.done
		err := cmd.Wait()
		logf.Close()
		r.mu.Lock()
		p.err = err
		killed := p.killed
		r.mu.Unlock()
		if !killed {
			r.log.Warn("member exited on its own", "node", m.m.Name, "err", err)
		}
		close(p.done)
	}()
	return nil
}

func (r *Runtime) waitReady(ctx context.Context, all, wait []cluster.Member) error {
	errc := make(chan error, 1)
	go func() { errc <- cluster.WaitReady(ctx, r.target, all, wait) }()
	// Fail fast when a member we wait for exits.
	var dones []<-chan struct{}
	r.mu.Lock()
	for _, w := range wait {
		if m := r.byName[w.Name]; m.proc != nil {
			dones = append(dones, m.proc.done)
		}
	}
	r.mu.Unlock()
	exited := make(chan string, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, d := range dones {
		wg.Go(func() {
			select {
			case <-d:
				select {
				case exited <- wait[i].Name:
				default:
				}
			case <-stop:
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	select {
	case err := <-errc:
		return err
	case name := <-exited:
		<-errc
		return fmt.Errorf("%w: %s (see %s)", ErrMemberExited, name, r.byName[name].m.LogPath())
	}
}

func (r *Runtime) get(name string) (*member, error) {
	if r.byName == nil || r.stopped {
		return nil, cluster.ErrNotStarted
	}
	m, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", cluster.ErrUnknownMember, name)
	}
	return m, nil
}

func signalGroup(p *proc, sig syscall.Signal) error {
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Signal delivers sig to the member's process group: SIGKILL (and waits
// for the process to exit), SIGSTOP or SIGCONT.
func (r *Runtime) Signal(ctx context.Context, name string, sig cluster.Signal) error {
	if sig == cluster.SignalKill {
		return r.kill(ctx, name)
	}
	s, paused := syscall.SIGSTOP, true
	switch sig {
	case cluster.SignalStop:
	case cluster.SignalCont:
		s, paused = syscall.SIGCONT, false
	default:
		return fmt.Errorf("local: signal %s: %w", sig, cluster.ErrUnsupported)
	}
	r.mu.Lock()
	m, err := r.get(name)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	p := m.proc
	if p == nil {
		r.mu.Unlock()
		return nil // down: nothing to pause or resume
	}
	if err := signalGroup(p, s); err != nil {
		r.mu.Unlock()
		return fmt.Errorf("local: %s %s: %w", s, name, err)
	}
	p.paused = paused
	r.mu.Unlock()
	if paused {
		// SIGSTOP lands asynchronously: the pause is in force once every
		// thread has stopped (a JVM's can run on for milliseconds).
		if err := proctest.WaitStopped(p.cmd.Process.Pid, 5*time.Second); err != nil {
			return fmt.Errorf("local: pause %s: %w", name, err)
		}
	}
	r.log.Info("member signalled", "node", name, "signal", s.String())
	return nil
}

// kill sends SIGKILL to the member's process group and waits for it to exit.
func (r *Runtime) kill(ctx context.Context, name string) error {
	r.mu.Lock()
	m, err := r.get(name)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	p := m.proc
	if p == nil {
		r.mu.Unlock()
		return nil
	}
	p.killed = true
	if err := signalGroup(p, syscall.SIGKILL); err != nil {
		r.mu.Unlock()
		return fmt.Errorf("local: kill %s: %w", name, err)
	}
	m.proc = nil
	r.mu.Unlock()
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.log.Info("member killed", "node", name)
	return nil
}

// Restart starts a killed member with its data and waits (up to
// RestartTimeout) until it serves.
func (r *Runtime) Restart(ctx context.Context, name string) error {
	r.mu.Lock()
	m, err := r.get(name)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if m.proc != nil {
		select {
		case <-m.proc.done: // exited on its own: start it again
			m.proc = nil
		default:
			r.mu.Unlock()
			return nil
		}
	}
	if err := r.startLocked(m); err != nil {
		r.mu.Unlock()
		return err
	}
	all := r.membersLocked()
	r.mu.Unlock()
	r.log.Info("member restarted", "node", name)
	wctx, cancel := context.WithTimeout(ctx, r.cfg.RestartTimeout)
	defer cancel()
	if err := r.waitReady(wctx, all, []cluster.Member{m.m}); err != nil {
		if errors.Is(err, ErrMemberExited) || ctx.Err() != nil {
			return err
		}
		r.log.Warn("restarted member not serving yet", "node", name, "err", err)
	}
	return nil
}

// LoseUnsynced drops what the member, which must be down, wrote to its
// data directory without fsyncing it: the lazyfs mount there rolls back
// and mounts again.
func (r *Runtime) LoseUnsynced(_ context.Context, name string) (string, error) {
	r.mu.Lock()
	m, err := r.get(name)
	if err != nil {
		r.mu.Unlock()
		return "", err
	}
	running, lazy := m.proc != nil, m.lazy
	if running {
		select {
		case <-m.proc.done: // exited on its own
			running = false
		default:
		}
	}
	r.mu.Unlock()
	return cluster.LoseUnsynced("local", name, "local.Config.LazyFS", lazy, running, r.log)
}

// Firewall loads script into the member's network namespace. The namespace
// outlives the member's process, so a restart keeps it.
func (r *Runtime) Firewall(ctx context.Context, name, script string) error {
	if r.mode != ModeNetns {
		return fmt.Errorf("%w: firewall: %s", cluster.ErrUnsupported, r.Capabilities().Why)
	}
	r.mu.Lock()
	m, err := r.get(name)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := applyNft(ctx, m.ns, script); err != nil {
		return err
	}
	r.log.Info("firewall installed", "node", name)
	return nil
}

// Netns is the path of the member's network namespace, which outlives its
// process.
func (r *Runtime) Netns(_ context.Context, name string) (string, error) {
	if r.mode != ModeNetns {
		return "", fmt.Errorf("%w: network namespace: %s", cluster.ErrUnsupported, r.Capabilities().Why)
	}
	r.mu.Lock()
	m, err := r.get(name)
	r.mu.Unlock()
	if err != nil {
		return "", err
	}
	return "/var/run/netns/" + m.ns, nil
}

// AdminURL is the member's admin endpoint, reached through the host veth
// (netns) or on loopback.
func (r *Runtime) AdminURL(name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.get(name)
	if err != nil {
		return "", err
	}
	return m.m.AdminURL()
}

// Leader asks the running, unpaused members which one leads.
func (r *Runtime) Leader(ctx context.Context) (string, error) {
	r.mu.Lock()
	if r.byName == nil || r.stopped {
		r.mu.Unlock()
		return "", cluster.ErrNotStarted
	}
	var up []cluster.Member
	for _, m := range r.mems {
		if m.proc != nil && !m.proc.paused {
			up = append(up, m.m)
		}
	}
	t := r.target
	r.mu.Unlock()
	return cluster.FindLeader(ctx, t, up)
}

// Stop terminates every member (SIGCONT, SIGTERM, then SIGKILL after
// StopGrace), waits for them, and removes the network. Safe to call twice.
func (r *Runtime) Stop(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	var procs []*proc
	for _, m := range r.mems {
		if m.proc != nil {
			m.proc.killed = true
			procs = append(procs, m.proc)
			m.proc = nil
		}
	}
	nw, rec := r.nw, r.rec
	var mounts []*lazyfs.FS
	for _, m := range r.mems {
		if m.lazy != nil {
			mounts = append(mounts, m.lazy)
		}
	}
	r.mu.Unlock()
	var errs []error
	for _, p := range procs {
		if err := signalGroup(p, syscall.SIGCONT); err != nil {
			errs = append(errs, err)
		}
		if err := signalGroup(p, syscall.SIGTERM); err != nil {
			errs = append(errs, err)
		}
	}
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StopGrace)
	defer cancel()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-graceCtx.Done():
		}
	}
	for _, p := range procs {
		if err := signalGroup(p, syscall.SIGKILL); err != nil {
			errs = append(errs, err)
		}
		<-p.done
	}
	for _, fs := range mounts {
		if err := fs.Unmount(); err != nil {
			errs = append(errs, err)
		}
	}
	if nw != nil {
		if err := nw.teardown(context.WithoutCancel(ctx)); err != nil {
			errs = append(errs, err)
		}
	}
	if rec.ID != "" {
		if err := release(rec.ID); err != nil {
			errs = append(errs, err)
		}
	}
	r.log.Info("stopped")
	return errors.Join(errs...)
}

var _ cluster.Runtime = (*Runtime)(nil)
