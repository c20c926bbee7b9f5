package v3rpc

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
)

// Register registers every etcd v3 service (KV, Watch, Lease, Cluster,
// Maintenance, Auth) backed by b on s, with the default Config.
// The caller creates s with etcd's message size limits (receive
// MaxRequestBytes plus gRPC overhead, send math.MaxInt32) and serves it.
func Register(s *grpc.Server, b Backend) {
	RegisterWithConfig(s, b, DefaultConfig())
}

// RegisterWithConfig is Register with explicit settings (tests use short
// progress intervals). It panics if cfg does not Validate, since that is a
// programming error of the caller.
func RegisterWithConfig(s *grpc.Server, b Backend, cfg Config) {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	pb.RegisterKVServer(s, &kvServer{b: b, cfg: cfg})
	pb.RegisterWatchServer(s, &watchServer{b: b, cfg: cfg})
	pb.RegisterLeaseServer(s, &leaseServer{b: b})
	pb.RegisterClusterServer(s, &clusterServer{b: b})
	pb.RegisterMaintenanceServer(s, &maintenanceServer{b: b, cfg: cfg})
	pb.RegisterAuthServer(s, &authServer{b: b})
}
