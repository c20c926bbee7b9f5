package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"coordlab/cluster"
	"coordlab/images"
	"coordlab/lazyfs"
)

// Labels put on every container and network a run creates, so that Sweep
// finds the leftovers of a run that crashed.
const (
	LabelRun   = "coordlab.run"   // the run id
	LabelOwner = "coordlab.owner" // pid of the process that created it
)

// Config configures a docker Runtime.
type Config struct {
	// Dir is the run directory; member n keeps its data and configuration
	// under Dir/nodes/<name>, bind-mounted into the container at the same
	// path, so the target's generated configuration is valid inside too and
	// the data can be read after the run.
	Dir string
	// Images maps a target name to its image ("coordlab/raftkv:<hash>").
	// For a target with no entry, Start builds the image of a reference
	// system (etcd, zookeeper) from this machine's Debian packages unless
	// its content-hash tag exists (images.Build), and runs
	// "coordlab/<engine>:latest" for our engines, which `make images` and
	// `coordlab bench` tag from the binaries of `make build`.
	Images map[string]string
	// DockerDir holds the Dockerfiles (<name>.Dockerfile) that building a
	// reference image needs. Empty means the "docker" directory of the
	// working directory or of its nearest parent that has one, else the
	// one beside the directory of the coordlab executable (bin/../docker).
	DockerDir string
	// ReadyTimeout bounds Start and Restart. Default 60s.
	ReadyTimeout time.Duration
	// Logger gets state changes; nil discards.
	Logger *slog.Logger
	// LazyFS mounts each member's data directory over itself through
	// package lazyfs, on the host, before its container starts: the bind
	// mount of the member's directory carries it into the container, and
	// LoseUnsynced can drop what the member did not fsync. It needs root,
	// /dev/fuse, and a Docker daemon in the lab's mount namespace (Start
	// checks that each container sees the mount).
	LazyFS bool
}

// Runtime runs one cluster of any target as containers on a private
// network of their own. Faults: SIGKILL and restart of the same container
// (same writable layer, same bind-mounted data), docker pause/unpause (cgroup
// freezer), and partitions and loss with nft inside each container's network
// namespace, re-applied after a restart because a restarted container gets a
// new namespace.
type Runtime struct {
	cfg    Config
	log    *slog.Logger
	api    *client.Client
	runID  string
	nsExec func(ctx context.Context, pid int, script string) error

	mu      sync.Mutex
	target  cluster.Target
	net     *testcontainers.DockerNetwork
	mems    []*member
	byName  map[string]*member
	mounts  map[string]*lazyfs.FS // member -> its data directory's mount (LazyFS)
	stopped bool
}

type member struct {
	m      cluster.Member
	ctr    testcontainers.Container
	log    memberLog
	up     bool
	paused bool
	// firewall is the nft script last installed; a restart (a new
	// namespace) installs it again.
	firewall string
}

// New checks that the Docker engine answers and returns a Runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Dir == "" {
		return nil, errors.New("docker: Config.Dir: the run directory is required")
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	if cfg.LazyFS {
		if why := lazyfs.Unavailable(); why != "" {
			return nil, fmt.Errorf("docker: Config.LazyFS: %s", why)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkEnv(); err != nil {
		return nil, err
	}
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := api.Ping(pctx, client.PingOptions{}); err != nil {
		api.Close()
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	id := fmt.Sprintf("%08x", rand.Uint32())
	return &Runtime{cfg: cfg, log: log.With("runtime", "docker", "run", id), api: api, runID: id, nsExec: nsenterNft}, nil
}

// Ping says whether the Docker engine answers, as New needs.
func Ping(ctx context.Context) error {
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	defer api.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := api.Ping(pctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	return nil
}

// checkEnv refuses to run with the settings that would make testcontainers
// pull an image (Ryuk) or publish ports on an address we cannot reach.
func checkEnv() error {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		return errors.New("docker: TESTCONTAINERS_RYUK_DISABLED must be \"true\": Ryuk's image cannot be pulled here (the Makefile and coordlab set it)")
	}
	if p := os.Getenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX"); p != "" {
		return fmt.Errorf("docker: TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX=%q would make images be pulled; unset it", p)
	}
	return nil
}

// SetEnv sets the testcontainers environment coordlab needs (no Ryuk, host
// 127.0.0.1). Mains call it before creating a Runtime. It acts once per
// process: clusters started side by side call it together, and
// testcontainers reads its logger while creating containers.
func SetEnv() { setEnvOnce.Do(setEnv) }

var setEnvOnce sync.Once

func setEnv() {
	// testcontainers narrates every container step on stderr; our own
	// logger records the state changes that matter.
	tclog.SetDefault(tclog.NewNoopLogger())
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	os.Unsetenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX")
}

// Name is "docker".
func (r *Runtime) Name() string { return "docker" }

// RunID is the id in the names and labels of what this runtime creates.
func (r *Runtime) RunID() string { return r.runID }

// Capabilities: every primitive; the firewall needs root for nsenter.
func (r *Runtime) Capabilities() cluster.Capabilities { return Capabilities() }

// Capabilities are what a docker Runtime offers on this machine, without
// making one (see Ping for whether the engine answers).
func Capabilities() cluster.Capabilities {
	c := cluster.Capabilities{Kill: true, Pause: true, PauseBy: "docker-pause"}
	if os.Geteuid() == 0 {
		c.Firewall = true
	} else {
		c.Why = "partitions and loss enter the containers' network namespaces with nsenter, which needs root"
	}
	c.LoseUnsyncedWhy = lazyfs.Unavailable()
	c.LoseUnsynced = c.LoseUnsyncedWhy == ""
	return c
}

// LoseUnsynced drops what the member, which must be down, wrote to its
// data directory without fsyncing it: the lazyfs mount there rolls back
// and mounts again, and the container's next start binds the new mount.
func (r *Runtime) LoseUnsynced(_ context.Context, name string) (string, error) {
	r.mu.Lock()
	m, err := r.get(name)
	if err != nil {
		r.mu.Unlock()
		return "", err
	}
	up, fs := m.up, r.mounts[name]
	r.mu.Unlock()
	// The unmount waits until the killed container has let go of it.
	return cluster.LoseUnsynced("docker", name, "docker.Config.LazyFS", fs, up, r.log)
}

// seesMount checks that m's container sees the lazyfs mount of its data
// directory: a daemon in another mount namespace would bind the bare
// directory, and the fault would drop nothing.
func (r *Runtime) seesMount(ctx context.Context, m *member) error {
	info, err := r.api.ContainerInspect(ctx, m.ctr.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("docker: inspect %s: %w", m.m.Name, err)
	}
	st := info.Container.State
	if st == nil || st.Pid == 0 {
		return fmt.Errorf("docker: %s has no running process", m.m.Name)
	}
	seen, err := lazyfs.MountedIn(st.Pid)
	if err != nil {
		return fmt.Errorf("docker: %s: %w", m.m.Name, err)
	}
	if !slices.Contains(seen, m.m.DataDir()) {
		return fmt.Errorf("docker: %s: the container does not see the lazyfs mount of %s (is the Docker daemon in another mount namespace?): use --runtime local", m.m.Name, m.m.DataDir())
	}
	return nil
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

// reference reports whether t is a reference system, run from an image of
// this machine's Debian package with the local runtime's command line.
func reference(t cluster.Target) bool { return slices.Contains(images.References, t.Name()) }

// image returns the image to run t in, building a reference system's image
// when its content-hash tag is missing.
func (r *Runtime) image(ctx context.Context, t cluster.Target) (string, error) {
	name := t.Name()
	img := r.cfg.Images[name]
	switch {
	case img != "":
	case reference(t):
		dir := r.cfg.DockerDir
		if dir == "" {
			var err error
			if dir, err = findDockerDir(name); err != nil {
				return "", err
			}
		}
		tag, built, err := images.Build(ctx, name, images.Options{DockerDir: dir})
		if err != nil {
			return "", fmt.Errorf("docker: the %s image: %w", name, err)
		}
		if built {
			r.log.Info("image built", "image", tag)
		}
		return tag, nil
	default:
		img = images.Latest(name)
	}
	if _, err := r.api.ImageInspect(ctx, img); err != nil {
		return "", fmt.Errorf("%w: %s: run `make images` (images are built here, never pulled): %v", ErrNoImage, img, err)
	}
	return img, nil
}

// findDockerDir finds the directory holding name's Dockerfile: "docker" in
// the working directory or its nearest parent that has one, else beside
// the executable's directory (bin/coordlab in the repository).
func findDockerDir(name string) (string, error) {
	has := func(d string) bool {
		st, err := os.Stat(filepath.Join(d, name+".Dockerfile"))
		return err == nil && !st.IsDir()
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if has(filepath.Join(d, "docker")) {
				return filepath.Join(d, "docker"), nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if d := filepath.Join(filepath.Dir(filepath.Dir(exe)), "docker"); has(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: building it needs docker/%s.Dockerfile, which is in neither the working directory, its parents, nor beside the executable's directory: run coordlab from the repository", ErrNoImage, name)
}

// Start creates the network and one container per member, and returns once
// every member answers its probe and one of them leads.
func (r *Runtime) Start(ctx context.Context, t cluster.Target, n int) (_ []cluster.Member, err error) {
	if n < 1 {
		return nil, fmt.Errorf("docker: nodes: want at least 1, got %d", n)
	}
	img, err := r.image(ctx, t)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mems != nil || r.stopped {
		return nil, errors.New("docker: Start called twice")
	}
	r.target = t
	defer func() {
		if err != nil {
			r.mu.Unlock()
			r.Stop(context.WithoutCancel(ctx))
			r.mu.Lock()
		}
	}()
	subnet, err := r.createNetwork(ctx)
	if err != nil {
		return nil, err
	}
	cport, pport, eport := t.Protocol().DefaultPorts()
	r.byName = map[string]*member{}
	var all []cluster.Member
	for i, name := range cluster.Names(n) {
		ip := subnet.Addr().As4()
		ip[3] = byte(11 + i)
		m := cluster.Member{
			Name: name, ID: i + 1, Host: netip.AddrFrom4(ip).String(),
			ClientPort: cport, PeerPort: pport, ElectionPort: eport,
			Dir: filepath.Join(r.cfg.Dir, "nodes", name),
		}
		if t.ServesAdmin() {
			// Bound on every address of the container's own namespace,
			// reached from the host at the container's address.
			m.AdminPort, m.AdminBind = cluster.DefaultAdminPort, "0.0.0.0"
		}
		if err := os.MkdirAll(m.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("docker: %s: %w", name, err)
		}
		all = append(all, m)
		if r.cfg.LazyFS {
			if err := os.MkdirAll(m.DataDir(), 0o700); err != nil {
				return nil, fmt.Errorf("docker: %s data dir: %w", name, err)
			}
			fs, err := lazyfs.Mount(m.DataDir())
			if err != nil {
				return nil, fmt.Errorf("docker: %s: %w", name, err)
			}
			if r.mounts == nil {
				r.mounts = map[string]*lazyfs.FS{}
			}
			r.mounts[name] = fs
		}
	}
	for _, m := range all {
		cmd, err := t.Command(m, all)
		if err != nil {
			return nil, err
		}
		if fs := r.mounts[m.Name]; fs != nil {
			// What the lab wrote there (ZooKeeper's myid) is
			// configuration: durable, not the member's to lose.
			if err := fs.Sync(); err != nil {
				return nil, fmt.Errorf("docker: %s: %w", m.Name, err)
			}
		}
		logf, err := os.Create(m.LogPath())
		if err != nil {
			return nil, fmt.Errorf("docker: %s log: %w", m.Name, err)
		}
		ctr, err := r.createContainer(ctx, img, m, t, cmd)
		if err != nil {
			logf.Close()
			return nil, err
		}
		mem := &member{m: m, ctr: ctr, up: true, log: memberLog{f: logf}}
		r.mems = append(r.mems, mem)
		r.byName[m.Name] = mem
		if err := r.followLog(ctx, mem); err != nil {
			return nil, err
		}
		if r.mounts[m.Name] != nil {
			if err := r.seesMount(ctx, mem); err != nil {
				return nil, err
			}
		}
	}
	rctx, cancel := context.WithTimeout(ctx, r.cfg.ReadyTimeout)
	defer cancel()
	if err := cluster.WaitReady(rctx, t, all, all); err != nil {
		return nil, fmt.Errorf("docker: %w%s (member logs under %s)", err, r.exitedLocked(ctx), filepath.Join(r.cfg.Dir, "nodes"))
	}
	r.log.Info("cluster up", "target", t.Name(), "image", img, "nodes", n, "subnet", subnet.String())
	return slices.Clone(all), nil
}

// exitedLocked names the members whose container has exited, with the last
// line of their log, so a member that could not start says why.
func (r *Runtime) exitedLocked(ctx context.Context) string {
	var b strings.Builder
	for _, m := range r.mems {
		info, err := r.api.ContainerInspect(context.WithoutCancel(ctx), m.ctr.GetContainerID(), client.ContainerInspectOptions{})
		if err != nil || info.Container.State == nil || info.Container.State.Running {
			continue
		}
		last := ""
		if logb, err := os.ReadFile(m.m.LogPath()); err == nil {
			lines := strings.Split(strings.TrimSpace(string(logb)), "\n")
			last = lines[len(lines)-1]
		}
		fmt.Fprintf(&b, "; %s exited with status %d: %q", m.m.Name, info.Container.State.ExitCode, last)
	}
	return b.String()
}

// createNetwork makes the run's bridge network on a free 10.78.x.0/24.
func (r *Runtime) createNetwork(ctx context.Context) (netip.Prefix, error) {
	var last error
	for try := 0; try < 8; try++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 78, byte(rand.IntN(250) + 1), 0}), 24)
		gw := p.Addr().As4()
		gw[3] = 1
		nw, err := tcnetwork.New(ctx,
			tcnetwork.WithLabels(map[string]string{LabelRun: r.runID, LabelOwner: strconv.Itoa(os.Getpid())}),
			tcnetwork.WithIPAM(&network.IPAM{Config: []network.IPAMConfig{{Subnet: p, Gateway: netip.AddrFrom4(gw)}}}),
		)
		if err == nil {
			r.net = nw
			return p, nil
		}
		last = err // most likely the subnet overlaps another network
	}
	return netip.Prefix{}, fmt.Errorf("docker: create network: %w", last)
}

// createContainer starts m's container. Our engines' images run their
// binary as entrypoint with cmd's arguments. A reference system's image
// holds the host's files at their host paths, so it runs cmd as the local
// runtime does: cmd.Path as entrypoint, the same arguments, the same
// environment (HOME, cmd.Env; the image's default JDK_JAVA_OPTIONS is
// cleared, the heap being on the command line).
func (r *Runtime) createContainer(ctx context.Context, img string, m cluster.Member, t cluster.Target, cmd cluster.Command) (testcontainers.Container, error) {
	ip := netip.MustParseAddr(m.Host)
	env := map[string]string{"HOME": m.Dir}
	var entrypoint []string
	if reference(t) {
		entrypoint = []string{cmd.Path}
		env["JDK_JAVA_OPTIONS"] = ""
	}
	for _, kv := range cmd.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	req := testcontainers.ContainerRequest{
		Image:      img,
		Entrypoint: entrypoint,
		Cmd:        cmd.Args,
		Env:        env,
		Name:       "clab-" + r.runID + "-" + m.Name,
		Labels:     map[string]string{LabelRun: r.runID, LabelOwner: strconv.Itoa(os.Getpid())},
		Networks:   []string{r.net.Name},
		NetworkAliases: map[string][]string{
			r.net.Name: {m.Name},
		},
		Mounts: testcontainers.ContainerMounts{testcontainers.BindMount(m.Dir, testcontainers.ContainerMountTarget(m.Dir))},
		EndpointSettingsModifier: func(eps map[string]*network.EndpointSettings) {
			if ep := eps[r.net.Name]; ep != nil {
				ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ip}
			}
		},
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		if ctr != nil {
			ctr.Terminate(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("docker: start %s: %w", m.Name, err)
	}
	return ctr, nil
}

// memberLog copies a member container's stdout and stderr into its log
// file: one follower per start of the container, each from that start
// on, so that a restarted member's earlier output is not copied again.
type memberLog struct {
	f      *os.File
	cancel context.CancelFunc // ends the current follower
	done   chan struct{}      // closed when the current follower ends
}

// followLog starts copying the output of m's container from its current
// start on, after the previous follower (whose stream ended with the
// killed container) has finished writing.
func (r *Runtime) followLog(ctx context.Context, m *member) error {
	m.log.end(2 * time.Second)
	id := m.ctr.GetContainerID()
	info, err := r.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("docker: inspect %s: %w", m.m.Name, err)
	}
	since := ""
	if st := info.Container.State; st != nil {
		since = st.StartedAt
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rc, err := r.api.ContainerLogs(lctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Since: since})
	if err != nil {
		cancel()
		return fmt.Errorf("docker: follow the output of %s: %w", m.m.Name, err)
	}
	done := make(chan struct{})
	go func(f *os.File) {
		defer close(done)
		defer rc.Close()
		stdcopy.StdCopy(f, f, rc) // ends when the container stops or cancel is called
	}(m.log.f)
	m.log.cancel, m.log.done = cancel, done
	return nil
}

// end waits up to d for the current follower to reach the end of its
// stream (the container stopped), then cancels it and waits until it has
// written its last byte.
func (l *memberLog) end(d time.Duration) {
	if l.done == nil {
		return
	}
	select {
	case <-l.done:
	case <-time.After(d):
	}
	l.cancel()
	<-l.done
	l.cancel, l.done = nil, nil
}

func (r *Runtime) get(name string) (*member, error) {
	if r.byName == nil || r.stopped {
		return nil, cluster.ErrNotStarted
	}
	m, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", cluster.ErrUnknownMember, name)
	}
	return m, nil
}

// signalTimeout bounds one kill, pause or unpause request to the daemon.
const signalTimeout = 30 * time.Second

// Signal kills the container (SIGKILL), or freezes and thaws it with the
// cgroup freezer (docker pause and unpause).
func (r *Runtime) Signal(ctx context.Context, name string, sig cluster.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.get(name)
	if err != nil {
		return err
	}
	id := m.ctr.GetContainerID()
	// The daemon may carry out a kill or pause whose request was cancelled
	// (a run ending mid-fault): the member would be down while this runtime
	// thinks it up, and never restarted. So the call is not cancelled with
	// ctx; it is only bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signalTimeout)
	defer cancel()
	switch sig {
	case cluster.SignalKill:
		if !m.up {
			return nil
		}
		if _, err := r.api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
			return fmt.Errorf("docker: kill %s: %w", name, err)
		}
		m.up, m.paused = false, false
	case cluster.SignalStop:
		if !m.up || m.paused {
			return nil
		}
		if _, err := r.api.ContainerPause(ctx, id, client.ContainerPauseOptions{}); err != nil {
			return fmt.Errorf("docker: pause %s: %w", name, err)
		}
		m.paused = true
	case cluster.SignalCont:
		if !m.paused {
			return nil
		}
		if _, err := r.api.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("docker: resume %s: %w", name, err)
		}
		m.paused = false
	default:
		return fmt.Errorf("docker: signal %s: %w", sig, cluster.ErrUnsupported)
	}
	r.log.Info("member signalled", "node", name, "signal", sig.String())
	return nil
}

// Restart starts the killed container again (same writable layer and data),
// re-applies its firewall (the new namespace has none) and waits until it
// serves.
func (r *Runtime) Restart(ctx context.Context, name string) error {
	r.mu.Lock()
	m, err := r.get(name)
	if err != nil || m.up {
		r.mu.Unlock()
		return err
	}
	if err := m.ctr.Start(ctx); err != nil {
		r.mu.Unlock()
		return fmt.Errorf("docker: restart %s: %w", name, err)
	}
	m.up = true
	err = errors.Join(r.followLog(ctx, m), r.applyLocked(ctx, m))
	t, all := r.target, r.membersLocked()
	r.mu.Unlock()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, r.cfg.ReadyTimeout)
	defer cancel()
	for {
		if _, err := t.Probe(rctx, m.m); err == nil {
			break
		}
		select {
		case <-rctx.Done():
			return fmt.Errorf("docker: %s did not serve after restart: %w", name, rctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.log.Info("member restarted", "node", name, "members", len(all))
	return nil
}

// Firewall installs script in the member's container namespace and keeps
// it for the next restart. A member that is down has no namespace: the
// script waits for Restart.
func (r *Runtime) Firewall(ctx context.Context, name, script string) error {
	if c := r.Capabilities(); !c.Firewall {
		return fmt.Errorf("%w: firewall: %s", cluster.ErrUnsupported, c.Why)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.get(name)
	if err != nil {
		return err
	}
	m.firewall = script
	if err := r.applyLocked(ctx, m); err != nil {
		return err
	}
	r.log.Info("firewall installed", "node", name)
	return nil
}

// applyLocked loads m's firewall into its container's namespace. A member
// that is down has no namespace; Restart applies its rules again.
func (r *Runtime) applyLocked(ctx context.Context, m *member) error {
	if !m.up || m.firewall == "" {
		return nil
	}
	info, err := r.api.ContainerInspect(ctx, m.ctr.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("docker: inspect %s: %w", m.m.Name, err)
	}
	st := info.Container.State
	if st == nil || st.Pid == 0 {
		return fmt.Errorf("docker: %s has no running process to firewall", m.m.Name)
	}
	if err := r.nsExec(ctx, st.Pid, m.firewall); err != nil {
		return fmt.Errorf("docker: firewall %s: %w", m.m.Name, err)
	}
	return nil
}

// Netns is the path of the network namespace of the member's running
// container (/proc/<pid>/ns/net); a restart makes a new one.
func (r *Runtime) Netns(ctx context.Context, name string) (string, error) {
	if c := r.Capabilities(); !c.Firewall {
		return "", fmt.Errorf("%w: network namespace: %s", cluster.ErrUnsupported, c.Why)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.get(name)
	if err != nil {
		return "", err
	}
	if !m.up {
		return "", fmt.Errorf("docker: %s is down: its container has no network namespace", name)
	}
	info, err := r.api.ContainerInspect(ctx, m.ctr.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("docker: inspect %s: %w", name, err)
	}
	if st := info.Container.State; st != nil && st.Pid != 0 {
		return "/proc/" + strconv.Itoa(st.Pid) + "/ns/net", nil
	}
	return "", fmt.Errorf("docker: %s has no running process", name)
}

// AdminURL is the member's admin endpoint at its container address.
func (r *Runtime) AdminURL(name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.get(name)
	if err != nil {
		return "", err
	}
	return m.m.AdminURL()
}

// nsenterNft loads an nft script inside the network namespace of pid.
func nsenterNft(ctx context.Context, pid int, script string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(pid), "-n", "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nsenter -t %d -n nft -f -: %w: %s", pid, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (r *Runtime) membersLocked() []cluster.Member {
	out := make([]cluster.Member, len(r.mems))
	for i, m := range r.mems {
		out[i] = m.m
	}
	return out
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
		if m.up && !m.paused {
			up = append(up, m.m)
		}
	}
	t := r.target
	r.mu.Unlock()
	return cluster.FindLeader(ctx, t, up)
}

// Stop removes every container and the network. Safe to call twice.
func (r *Runtime) Stop(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	mems, nw, mounts := r.mems, r.net, r.mounts
	r.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, m := range mems {
		if m.paused { // a frozen container cannot be stopped gracefully
			r.api.ContainerUnpause(ctx, m.ctr.GetContainerID(), client.ContainerUnpauseOptions{})
		}
		if err := m.ctr.Terminate(ctx, testcontainers.StopTimeout(2*time.Second)); err != nil {
			errs = append(errs, fmt.Errorf("docker: remove %s: %w", m.m.Name, err))
		}
		r.mu.Lock() // a Restart under way follows the log under the lock
		m.log.end(2 * time.Second)
		m.log.f.Close()
		r.mu.Unlock()
	}
	// The containers are gone: nothing holds the mounts any more.
	for _, fs := range mounts {
		if err := fs.Unmount(); err != nil {
			errs = append(errs, err)
		}
	}
	if nw != nil {
		if err := nw.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("docker: remove network: %w", err))
		}
	}
	r.api.Close()
	r.log.Info("cluster removed")
	return errors.Join(errs...)
}

// Sweep removes the containers and networks of earlier runs whose owner
// process is gone (a crashed or killed coordlab), found by their labels.
// It returns the run ids it removed.
func Sweep(ctx context.Context) ([]string, error) {
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDocker, err)
	}
	defer api.Close()
	dead := map[string]bool{}
	isDead := func(labels map[string]string) bool {
		run := labels[LabelRun]
		if run == "" {
			return false
		}
		pid, err := strconv.Atoi(labels[LabelOwner])
		if err == nil && pid > 0 && pid != os.Getpid() && alive(pid) {
			return false
		}
		if pid == os.Getpid() {
			return false
		}
		dead[run] = true
		return true
	}
	var errs []error
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelRun)})
	if err != nil {
		return nil, fmt.Errorf("docker: list containers: %w", err)
	}
	for _, c := range cs.Items {
		if isDead(c.Labels) {
			if _, err := api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ns, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", LabelRun)})
	if err != nil {
		return nil, fmt.Errorf("docker: list networks: %w", err)
	}
	for _, n := range ns.Items {
		if isDead(n.Labels) {
			if _, err := api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	runs := make([]string, 0, len(dead))
	for r := range dead {
		runs = append(runs, r)
	}
	sort.Strings(runs)
	return runs, errors.Join(errs...)
}

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
