package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"coordlab/lazyfs"
)

// StateDir holds the lock file and one record per live run.
var StateDir = "/run/coordlab"

// namePrefix starts every namespace and link this package creates.
const namePrefix = "clab"

// runRecord is what a run writes to StateDir/runs/<id>.json.
type runRecord struct {
	ID     string `json:"id"`
	Subnet int    `json:"subnet"` // x of 10.77.x.0/24
	PID    int    `json:"pid"`
}

// newRunID returns 6 lowercase hex characters, so that every name fits the
// kernel's 15-character limit on interface names ("clab"+6+"hs").
func newRunID() (string, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("local: run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func nsName(run string, i int) string { return namePrefix + run + "n" + strconv.Itoa(i) }
func swName(run string) string        { return namePrefix + run + "sw" }
func vethName(run string, i int) string {
	return namePrefix + run + "v" + strconv.Itoa(i)
}
func hostVeth(run string) string   { return namePrefix + run + "h" }
func hostVethSw(run string) string { return namePrefix + run + "hs" }

// memberIP is 10.77.x.i; the host side is 10.77.x.254.
func memberIP(subnet, i int) string { return fmt.Sprintf("10.77.%d.%d", subnet, i) }
func hostIP(subnet int) string      { return fmt.Sprintf("10.77.%d.254", subnet) }

// runCmd runs a command and returns its combined output in the error.
func runCmd(ctx context.Context, name string, args ...string) error {
	_, err := runOut(ctx, nil, name, args...)
	return err
}

func runOut(ctx context.Context, stdin []byte, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("local: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// withLock runs f holding an exclusive flock on StateDir/lock.
func withLock(f func() error) error {
	if err := os.MkdirAll(filepath.Join(StateDir, "runs"), 0o755); err != nil {
		return fmt.Errorf("local: state dir: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(StateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("local: lock file: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("local: lock: %w", err)
	}
	ferr := f()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_UN); err != nil {
		return errors.Join(ferr, fmt.Errorf("local: unlock: %w", err))
	}
	return ferr
}

func readRecords() ([]runRecord, error) {
	paths, err := filepath.Glob(filepath.Join(StateDir, "runs", "*.json"))
	if err != nil {
		return nil, fmt.Errorf("local: list runs: %w", err)
	}
	var out []runRecord
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // removed meanwhile by its owner
		}
		var r runRecord
		if err := json.Unmarshal(b, &r); err != nil || r.ID == "" {
			r = runRecord{ID: strings.TrimSuffix(filepath.Base(p), ".json")} // corrupt: treat as dead
		}
		out = append(out, r)
	}
	return out, nil
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// reserve picks a run id and a free subnet and records them.
func reserve() (runRecord, error) {
	var rec runRecord
	err := withLock(func() error {
		recs, err := readRecords()
		if err != nil {
			return err
		}
		used := map[int]bool{}
		ids := map[string]bool{}
		for _, r := range recs {
			ids[r.ID] = true
			if alive(r.PID) {
				used[r.Subnet] = true
			}
		}
		hostAddrs, err := runOut(context.Background(), nil, "ip", "-4", "-o", "addr", "show")
		if err != nil {
			return err
		}
		for x := 1; x < 250; x++ {
			if used[x] || strings.Contains(hostAddrs, " "+hostIP(x)+"/") {
				continue
			}
			for {
				id, err := newRunID()
				if err != nil {
					return err
				}
				if !ids[id] {
					rec = runRecord{ID: id, Subnet: x, PID: os.Getpid()}
					break
				}
			}
			b, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(StateDir, "runs", rec.ID+".json"), b, 0o644)
		}
		return ErrNoFreeSubnet
	})
	return rec, err
}

func release(id string) error {
	err := os.Remove(filepath.Join(StateDir, "runs", id+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// network is the namespaces and links of one run.
type network struct {
	run    string
	subnet int
	n      int
}

// setup creates the switch, the member namespaces and the host veth. On
// error it removes what it created.
func (nw *network) setup(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			if terr := nw.teardown(context.Background()); terr != nil {
				err = errors.Join(err, terr)
			}
		}
	}()
	sw := swName(nw.run)
	steps := [][]string{
		{"netns", "add", sw},
		{"-n", sw, "link", "add", "br0", "type", "bridge"},
		{"-n", sw, "link", "set", "br0", "up"},
		{"link", "add", hostVeth(nw.run), "type", "veth", "peer", "name", hostVethSw(nw.run), "netns", sw},
		{"-n", sw, "link", "set", hostVethSw(nw.run), "master", "br0"},
		{"-n", sw, "link", "set", hostVethSw(nw.run), "up"},
		{"addr", "add", hostIP(nw.subnet) + "/24", "dev", hostVeth(nw.run)},
		{"link", "set", hostVeth(nw.run), "up"},
	}
	for i := 1; i <= nw.n; i++ {
		ns := nsName(nw.run, i)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"link", "add", vethName(nw.run, i), "netns", sw, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"-n", sw, "link", "set", vethName(nw.run, i), "master", "br0"},
			[]string{"-n", sw, "link", "set", vethName(nw.run, i), "up"},
			[]string{"-n", ns, "addr", "add", memberIP(nw.subnet, i) + "/24", "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := runCmd(ctx, "ip", s...); err != nil {
			return err
		}
	}
	return nil
}

// teardown deletes the run's namespaces (their veths die with them) and the
// host veth. Missing pieces are not errors.
func (nw *network) teardown(ctx context.Context) error {
	return removeRun(ctx, nw.run)
}

// removeRun deletes every namespace and link named clab<run>..., by exact
// names found in `ip netns list` and `ip link`.
func removeRun(ctx context.Context, run string) error {
	var errs []error
	nss, err := listNetns(ctx)
	if err != nil {
		return err
	}
	for _, ns := range nss {
		if belongs(ns, run) {
			if err := runCmd(ctx, "ip", "netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	links, err := listLinks(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, l := range links {
		if belongs(l, run) {
			if err := runCmd(ctx, "ip", "link", "del", l); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// belongs reports whether name is one of run's names: clab<run> followed by
// n<digits>, v<digits>, sw, h or hs.
func belongs(name, run string) bool {
	rest, ok := strings.CutPrefix(name, namePrefix+run)
	if !ok {
		return false
	}
	switch rest {
	case "sw", "h", "hs":
		return true
	}
	if len(rest) >= 2 && (rest[0] == 'n' || rest[0] == 'v') {
		_, err := strconv.Atoi(rest[1:])
		return err == nil
	}
	return false
}

// runOf extracts the run id from one of our names, or "".
func runOf(name string) string {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok || len(rest) < 7 {
		return ""
	}
	id := rest[:6]
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return ""
	}
	if !belongs(name, id) {
		return ""
	}
	return id
}

func listNetns(ctx context.Context) ([]string, error) {
	out, err := runOut(ctx, nil, "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

func listLinks(ctx context.Context) ([]string, error) {
	out, err := runOut(ctx, nil, "ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		names = append(names, name)
	}
	return names, nil
}

// Sweep removes the namespaces, links and records of runs whose owner
// process is gone, and returns the run ids it removed. Names are matched
// exactly (clab + 6 hex digits + a known suffix); runs alive on this machine
// are left alone. It also unmounts the lazyfs mounts whose lab process
// died (listed as "lazyfs:<dir>"). It needs root; without root it does
// nothing.
func Sweep(ctx context.Context, log *slog.Logger) ([]string, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var removed []string
	err := withLock(func() error {
		recs, err := readRecords()
		if err != nil {
			return err
		}
		live := map[string]bool{}
		dead := map[string]bool{}
		for _, r := range recs {
			if alive(r.PID) {
				live[r.ID] = true
			} else {
				dead[r.ID] = true
			}
		}
		nss, err := listNetns(ctx)
		if err != nil {
			return err
		}
		links, err := listLinks(ctx)
		if err != nil {
			return err
		}
		for _, name := range append(nss, links...) {
			if id := runOf(name); id != "" && !live[id] {
				dead[id] = true
			}
		}
		var errs []error
		for id := range dead {
			if err := removeRun(ctx, id); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := release(id); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, id)
			log.Info("swept leftovers of a dead run", "run", id)
		}
		return errors.Join(errs...)
	})
	mounts, merr := lazyfs.SweepDead()
	for _, mp := range mounts {
		log.Info("unmounted the lazyfs mount of a dead run", "dir", mp)
		removed = append(removed, "lazyfs:"+mp)
	}
	sort.Strings(removed)
	return removed, errors.Join(err, merr)
}

// applyNft loads script into the namespace.
func applyNft(ctx context.Context, ns, script string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := runOut(ctx, []byte(script), "ip", "netns", "exec", ns, "nft", "-f", "-")
	return err
}
