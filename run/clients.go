package run

import (
	"context"
	"fmt"

	"coordlab/client"
	"coordlab/client/etcdapi"
	"coordlab/client/zkapi"
	"coordlab/cluster"
)

// clientFactory makes clients pinned to one member, speaking the target's
// protocol with the spec's read mode.
func clientFactory(p cluster.Protocol, members []cluster.Member, mode client.ReadMode) (func(ctx context.Context, node string) (client.Client, error), error) {
	byName := map[string]cluster.Member{}
	for _, m := range members {
		byName[m.Name] = m
	}
	mk, ok := protocolClients[p]
	if !ok {
		return nil, fmt.Errorf("run: no client for protocol %s", p)
	}
	return func(ctx context.Context, node string) (client.Client, error) {
		m, ok := byName[node]
		if !ok {
			return nil, fmt.Errorf("run: no member %q", node)
		}
		return mk(ctx, m, mode)
	}, nil
}

// protocolClients: how to make a client of each protocol.
var protocolClients = map[cluster.Protocol]func(ctx context.Context, m cluster.Member, mode client.ReadMode) (client.Client, error){
	cluster.ProtocolEtcd: func(ctx context.Context, m cluster.Member, mode client.ReadMode) (client.Client, error) {
		return etcdapi.New(etcdapi.Config{Endpoint: m.ClientAddr(), Node: m.Name, ReadMode: mode, Prefix: "coordlab/"})
	},
	cluster.ProtocolZooKeeper: func(ctx context.Context, m cluster.Member, mode client.ReadMode) (client.Client, error) {
		return zkapi.New(zkapi.Config{Server: m.ClientAddr(), Node: m.Name, ReadMode: mode, Root: "/coordlab"})
	},
}
