package v3rpc

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The services answer with etcd's own errors (rpctypes.ErrGRPC*), because
// clientv3 recognises an error by its exact code and message. These are the
// few answers etcd has no value for.
var (
	// ErrAuthNotSupported answers the Auth RPCs on a Backend that is not an
	// Authenticator.
	ErrAuthNotSupported = status.Error(codes.Unimplemented, "etcdserver: authentication is not supported by raftkv")
	// ErrLearnerNotSupported answers MemberPromote and MemberAdd of a
	// learner on a Backend that is not a Reconfigurer.
	ErrLearnerNotSupported = status.Error(codes.Unimplemented, "etcdserver: learner members are not supported by raftkv")
	// ErrAlarmNotSupported answers alarm ACTIVATE/DEACTIVATE on a Backend that
	// is not an Alarmer.
	ErrAlarmNotSupported = status.Error(codes.Unimplemented, "etcdserver: alarms are not supported by raftkv")
)

// statusUnknown is an error etcd sends without converting it to an
// rpctypes value: codes.Unknown with the bare message.
func statusUnknown(msg string) error { return status.Error(codes.Unknown, msg) }

// toGRPC maps an error from the Backend or the store to the gRPC error a
// client sees. Errors that carry a gRPC status (rpctypes values, possibly
// wrapped) are returned as that status unchanged, so their message stays
// byte-for-byte etcd's; context errors become etcd's canceled/deadline errors.
func toGRPC(err error) error {
	if err == nil {
		return nil
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Err()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return rpctypes.ErrGRPCCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return rpctypes.ErrGRPCDeadlineExceeded
	}
	return status.Error(codes.Unknown, err.Error())
}

// internalError reports a broken contract between the services and the
// Backend (a response of the wrong type): a bug, not bad input.
func internalError(format string, args ...any) error {
	return status.Error(codes.Internal, "v3rpc: "+fmt.Sprintf(format, args...))
}
