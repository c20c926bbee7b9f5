package raftkv

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/etcdserverpb/gw"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

// The gRPC JSON gateway (--enable-grpc-gateway, etcd's default): the v3 API
// as JSON over HTTP at /v3/... (and /v3beta/..., as etcd 3.4 rewrites it),
// on the client URLs. As etcd, the gateway is a gRPC client of the member's
// own gRPC server; here through an in-memory connection, so it needs no
// credentials of its own while clients still pass the listener's TLS.

// pipeListener is a net.Listener whose connections are in-memory pipes.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _ string) (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case l.conns <- a:
		return b, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "gateway" }

// gateway serves gs's services as JSON; close it after gs stops.
type gateway struct {
	ln   *pipeListener
	conn *grpc.ClientConn
	mux  *runtime.ServeMux
}

func newGateway(ctx context.Context, gs *grpc.Server) (*gateway, error) {
	ln := newPipeListener()
	go func() { _ = gs.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///gateway", grpc.WithContextDialer(ln.dial),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<31-1)))
	if err != nil {
		ln.Close()
		return nil, err
	}
	// etcd's marshaler: proto field names (snake_case), zero values left out.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
		Marshaler: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		},
	}))
	for _, reg := range []func() error{
		func() error { return gw.RegisterKVHandlerClient(ctx, mux, pb.NewKVClient(conn)) },
		func() error { return gw.RegisterWatchHandlerClient(ctx, mux, pb.NewWatchClient(conn)) },
		func() error { return gw.RegisterLeaseHandlerClient(ctx, mux, pb.NewLeaseClient(conn)) },
		func() error { return gw.RegisterClusterHandlerClient(ctx, mux, pb.NewClusterClient(conn)) },
		func() error { return gw.RegisterMaintenanceHandlerClient(ctx, mux, pb.NewMaintenanceClient(conn)) },
		func() error { return gw.RegisterAuthHandlerClient(ctx, mux, pb.NewAuthClient(conn)) },
	} {
		if err := reg(); err != nil {
			conn.Close()
			ln.Close()
			return nil, err
		}
	}
	return &gateway{ln: ln, conn: conn, mux: mux}, nil
}

// handler sends /v3/ and /v3beta/ paths to the gateway, the rest to next.
func (g *gateway) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v3beta/") {
			r.URL.Path = "/v3/" + strings.TrimPrefix(r.URL.Path, "/v3beta/")
		}
		if strings.HasPrefix(r.URL.Path, "/v3/") {
			g.mux.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *gateway) close() error {
	return errors.Join(g.conn.Close(), g.ln.Close())
}
