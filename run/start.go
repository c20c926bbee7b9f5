package run

import (
	"context"
	"fmt"
	"log/slog"

	"coordlab/client"
	"coordlab/cluster"
)

// Cluster is a started cluster of one target in the runtime a spec names,
// for code that drives it with clients of its own instead of a workload
// (the performance section of `coordlab bench`). It is the same runtime,
// target and client adapter a run uses.
type Cluster struct {
	Runtime cluster.Runtime
	Members []cluster.Member
	// Network says how members are connected (netns, loopback, bridge).
	Network string
	// Versions says what ran (package version or binary hash, Go).
	Versions map[string]string
	protocol cluster.Protocol
}

// StartCluster starts spec.Nodes members of spec.Target in spec.Runtime
// (spec.Network for the local runtime), their directories under dir, and
// returns once every member serves and one leads. Stop it with
// c.Runtime.Stop.
//
// opts.BinDir is taken from spec.BinDir; the other options (JVMDefaults)
// are the caller's.
func StartCluster(ctx context.Context, spec Spec, opts cluster.TargetOptions, dir string, log *slog.Logger) (*Cluster, error) {
	opts.BinDir = spec.BinDir
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	target, err := cluster.NewTarget(spec.Target, opts)
	if err != nil {
		return nil, err
	}
	if err := target.Check(); err != nil {
		return nil, err
	}
	rt, err := newRuntime(ctx, spec, dir, false, log) // no fault runs on these clusters
	if err != nil {
		return nil, err
	}
	members, err := rt.Start(ctx, target, spec.Nodes)
	if err != nil {
		rt.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("run: start %s: %w", spec.Target, err)
	}
	return &Cluster{Runtime: rt, Members: members, Network: rt.Network(), Versions: versions(ctx, spec), protocol: target.Protocol()}, nil
}

// NewClient makes a client of the cluster's protocol pinned to member
// node, reading with mode (which must be one of the protocol's modes).
func (c *Cluster) NewClient(ctx context.Context, node string, mode client.ReadMode) (client.Client, error) {
	mk, err := clientFactory(c.protocol, c.Members, mode)
	if err != nil {
		return nil, err
	}
	return mk(ctx, node)
}

// Protocol is the client protocol the target speaks.
func (c *Cluster) Protocol() cluster.Protocol { return c.protocol }
