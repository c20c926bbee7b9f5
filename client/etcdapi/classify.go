package etcdapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"coordlab/client"
)

// trace counts, for one client call, the gRPC attempts made and how many of
// them never reached a transport. It rides in the ctx to traceInterceptor,
// which runs inside clientv3's retry loop, once per attempt.
type trace struct {
	attempts atomic.Int32
	unsent   atomic.Int32
}

type traceKey struct{}

func withTrace(ctx context.Context) (context.Context, *trace) {
	t := &trace{}
	return context.WithValue(ctx, traceKey{}, t), t
}

// neverSent reports whether nothing of the call left this process: no
// attempt was made, or every attempt failed while picking a connection.
func (t *trace) neverSent() bool {
	if t == nil {
		return false
	}
	a := t.attempts.Load()
	return a == t.unsent.Load()
}

func traceInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	expired := ctx.Err() != nil // grpc will not send on a done ctx
	err := invoker(ctx, method, req, reply, cc, opts...)
	if t, ok := ctx.Value(traceKey{}).(*trace); ok {
		t.attempts.Add(1)
		if err != nil && (expired || pickFailed(err)) {
			t.unsent.Add(1)
		}
	}
	return err
}

// pickFailed reports a gRPC error produced while choosing a connection, before
// any byte of the request was written: grpc's picker ("... while waiting for
// connections to become ready", "latest balancer error: ...") or clientv3's
// "no connection/address available".
func pickFailed(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	msg := st.Message()
	return strings.Contains(msg, "while waiting for connections to become ready") ||
		strings.HasPrefix(msg, "latest balancer error") ||
		msg == "there is no address available" || msg == "there is no connection available"
}

// definiteServerMessages are errors etcd returns only when it refused the
// request before proposing it, or the proposal was dropped by raft.
var definiteServerMessages = map[string]bool{
	"etcdserver: no leader":            true, // require-leader interceptor, before handling
	"raft proposal dropped":            true, // raft refused to propose (no leader, transfer)
	"etcdserver: too many requests":    true, // apply lag check before propose
	"etcdserver: request is too large": true,
}

// classify wraps err in a *client.OpError, deciding whether the op surely did
// not take effect. readOnly ops are always definite: they have no effect.
func (c *Client) classify(ctx context.Context, tr *trace, op, key string, err error, readOnly bool) error {
	definite, sentinel := classifyErr(tr, err)
	if readOnly {
		definite = true
	}
	if sentinel != nil {
		err = fmt.Errorf("%w: %w", sentinel, err)
	}
	return &client.OpError{Op: op, Key: key, Node: c.cfg.Node, Definite: definite, Err: err}
}

func classifyErr(tr *trace, err error) (definite bool, sentinel error) {
	switch {
	case errors.Is(err, concurrency.ErrSessionExpired):
		// Mutex.Lock after waiting found its key gone: it may have been
		// the owner before the lease expired.
		return false, client.ErrSessionExpired
	case errors.Is(err, concurrency.ErrElectionNoLeader):
		return true, client.ErrNoLeader
	case errors.Is(err, concurrency.ErrLockReleased), errors.Is(err, concurrency.ErrElectionNotLeader):
		return true, nil
	case errors.Is(err, rpctypes.ErrCompacted):
		return true, client.ErrCompacted
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return true, client.ErrSessionExpired
	}
	if tr.neverSent() {
		return true, client.ErrUnavailable
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return false, client.ErrTimeout
	}
	if errors.Is(err, context.Canceled) {
		return false, nil
	}
	desc := rpctypes.ErrorDesc(err)
	if definiteServerMessages[desc] {
		if desc == "etcdserver: no leader" {
			return true, client.ErrNoLeader
		}
		return true, client.ErrUnavailable
	}
	st, ok := status.FromError(rpctypes.Error(err))
	if !ok {
		var ee rpctypes.EtcdError
		if errors.As(err, &ee) {
			st, ok = status.New(ee.Code(), ee.Error()), true
		}
	}
	if !ok {
		return false, nil
	}
	switch st.Code() {
	case codes.InvalidArgument, codes.OutOfRange, codes.NotFound, codes.FailedPrecondition,
		codes.ResourceExhausted, codes.PermissionDenied, codes.Unauthenticated, codes.AlreadyExists:
		return true, nil
	case codes.DeadlineExceeded:
		return false, client.ErrTimeout
	case codes.Unavailable:
		if strings.Contains(desc, "timed out") {
			return false, client.ErrTimeout
		}
		return false, client.ErrConnLost
	}
	return false, nil
}
