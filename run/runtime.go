package run

import (
	"context"
	"fmt"
	"log/slog"

	"coordlab/cluster"
	"coordlab/cluster/docker"
	"coordlab/cluster/local"
	"coordlab/lazyfs"
)

// runtime is a cluster.Runtime plus what a run records about it.
type runtime interface {
	cluster.Runtime
	RunID() string
	// Network says how members are connected (netns, loopback, bridge).
	Network() string
}

type localRuntime struct{ *local.Runtime }

func (r localRuntime) Network() string { return r.Mode().String() }

type dockerRuntime struct{ *docker.Runtime }

func (dockerRuntime) Network() string { return "bridge" }

// RuntimeHere says how the named runtime would run on this machine: its
// network, its capabilities, or why it cannot run at all. It creates
// nothing.
func RuntimeHere(ctx context.Context, name string) (network string, c cluster.Capabilities, err error) {
	switch name {
	case "local":
		rt, err := local.New(local.Config{Dir: "."})
		if err != nil {
			return "", c, err
		}
		return rt.Mode().String(), rt.Capabilities(), nil
	case "docker":
		return "bridge", docker.Capabilities(), docker.Ping(ctx)
	}
	return "", c, fmt.Errorf("%w: --runtime %q: want local or docker", ErrBadSpec, name)
}

// newRuntime makes the runtime the spec names, after sweeping what crashed
// runs of that runtime left behind; lazy mounts the data directories
// through lazyfs (a fault drops unsynced data) where that is possible
// (else the capabilities say why the fault cannot run).
func newRuntime(ctx context.Context, spec Spec, dir string, lazy bool, log *slog.Logger) (runtime, error) {
	switch spec.Runtime {
	case "local":
		if _, err := local.Sweep(ctx, log); err != nil {
			log.Warn("sweeping leftovers of earlier runs", "err", err)
		}
		mode := map[string]local.Mode{"auto": local.ModeAuto, "netns": local.ModeNetns, "loopback": local.ModeLoopback}[spec.Network]
		rt, err := local.New(local.Config{Dir: dir, Mode: mode, Logger: log, LazyFS: lazy && lazyfs.Unavailable() == ""})
		if err != nil {
			return nil, err
		}
		return localRuntime{rt}, nil
	case "docker":
		docker.SetEnv()
		if _, err := docker.Sweep(ctx); err != nil {
			log.Warn("sweeping leftovers of earlier docker runs", "err", err)
		}
		rt, err := docker.New(ctx, docker.Config{Dir: dir, Logger: log, LazyFS: lazy && lazyfs.Unavailable() == ""})
		if err != nil {
			return nil, err
		}
		return dockerRuntime{rt}, nil
	}
	return nil, fmt.Errorf("%w: --runtime %q: want local or docker", ErrBadSpec, spec.Runtime)
}
