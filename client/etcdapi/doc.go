// Package etcdapi implements client.Client over go.etcd.io/etcd/client/v3,
// for the real etcd and for raftkv (which speaks etcd's v3 gRPC API).
//
// One Client is one clientv3.Client pinned to one endpoint, so every op is
// attributed to one member. Reads use the configured read mode:
// linearizable (etcd's default) or serializable (clientv3.WithSerializable).
// Versions are mod revisions; Versioned.Revision is the response header's
// store revision. Locks and elections use clientv3/concurrency: the fencing
// token is the mutex key's create revision, the term the leader key's.
//
// Error classification (client.OpError.Definite): an op is definite when it
// surely did not take effect:
//   - reads (Get, Leader) of any failure: they have no effect;
//   - nothing was sent: every gRPC attempt failed while picking a connection
//     (connection refused, member down), seen by a unary interceptor;
//   - the server refused before proposing or the apply rejected it:
//     InvalidArgument, OutOfRange (compacted, future revision), NotFound
//     (lease not found), FailedPrecondition, ResourceExhausted (too many
//     requests, no space), PermissionDenied, Unauthenticated, "no leader"
//     (require-leader), "raft proposal dropped";
//
// A lock or campaign that fails after its key was written stays
// indeterminate, even when the key is gone (session expired): while it
// existed it may have been the owner, and others saw it.
//
// Everything else is indeterminate: deadline exceeded after the request was
// sent, Unavailable with the connection lost mid-request, "request timed
// out", "leader changed", "server stopped", Canceled, Unknown.
//
// Caveats: clientv3 retries reads on Unavailable and writes only when the
// request never left the client, so an indeterminate write was sent at most
// once. Watches use WithRequireLeader, so a watch on a member that lost its
// leader ends with an error event instead of hanging. A lease-based lock
// is not safe under process pauses (Jepsen, etcd 3.4.3): a holder whose
// lease expired keeps believing it holds the lock. That is reported by the
// lab, not fixed here.
package etcdapi
