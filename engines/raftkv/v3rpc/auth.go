package v3rpc

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"
)

// authServer is etcd's Auth service. Every request goes through raft, as in
// etcd: the store applies it (checking, on every member alike, that the
// sender holds the root role where etcd requires it) and answers.
// Passwords are hashed here with the member's --bcrypt-cost and only the
// hash is proposed, so no clear password reaches the log. Authenticate
// checks the password here, then proposes the user name and a random token
// prefix; every member assigns the token "<prefix>.<index>" when it applies
// the entry.
type authServer struct {
	pb.UnimplementedAuthServer
	b Backend
}

// authPropose proposes ir and fills the answer's header.
func authPropose[T interface {
	proto.Message
	GetHeader() *pb.ResponseHeader
}](ctx context.Context, b Backend, ir *pb.InternalRaftRequest) (T, error) {
	var zero T
	if _, ok := b.(Authenticator); !ok {
		return zero, ErrAuthNotSupported
	}
	resp, err := propose[T](ctx, b, ir)
	if err != nil {
		return zero, err
	}
	fillHeader(b, resp.GetHeader())
	return resp, nil
}

func (s *authServer) AuthEnable(ctx context.Context, r *pb.AuthEnableRequest) (*pb.AuthEnableResponse, error) {
	return authPropose[*pb.AuthEnableResponse](ctx, s.b, &pb.InternalRaftRequest{AuthEnable: r})
}

func (s *authServer) AuthDisable(ctx context.Context, r *pb.AuthDisableRequest) (*pb.AuthDisableResponse, error) {
	return authPropose[*pb.AuthDisableResponse](ctx, s.b, &pb.InternalRaftRequest{AuthDisable: r})
}

func (s *authServer) AuthStatus(ctx context.Context, r *pb.AuthStatusRequest) (*pb.AuthStatusResponse, error) {
	return authPropose[*pb.AuthStatusResponse](ctx, s.b, &pb.InternalRaftRequest{AuthStatus: r})
}

// Authenticate is etcd 3.4's: a linearizable read, the password check
// against the local store, then the token through raft; if the auth store
// changed between the check and the apply, it checks again.
func (s *authServer) Authenticate(ctx context.Context, r *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	if _, ok := s.b.(Authenticator); !ok {
		return nil, ErrAuthNotSupported
	}
	if err := s.b.LinearizableRead(ctx); err != nil {
		return nil, toGRPC(err)
	}
	for {
		st, err := storeOf(s.b)
		if err != nil {
			return nil, err
		}
		checked, err := checkPassword(st, r.Name, r.Password)
		if err != nil {
			return nil, err
		}
		ar := &pb.InternalAuthenticateRequest{Name: r.Name}
		if s.b.(Authenticator).AuthTokens().Simple() {
			ar.SimpleToken = tokenPrefix()
		}
		resp, err := authPropose[*pb.AuthenticateResponse](ctx, s.b, &pb.InternalRaftRequest{Authenticate: ar})
		if err != nil {
			return nil, err
		}
		if st, err = storeOf(s.b); err != nil {
			return nil, err
		}
		if st.AuthRevision() == checked {
			return resp, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, toGRPC(err)
		}
	}
}

// hash is the bcrypt hash of password at the member's cost.
func (s *authServer) hash(password string) (string, error) {
	a, ok := s.b.(Authenticator)
	if !ok {
		return "", ErrAuthNotSupported
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.AuthOptions().BcryptCost)
	if err != nil {
		return "", statusUnknown("etcdserver: hash password: " + err.Error())
	}
	return string(h), nil
}

func (s *authServer) UserAdd(ctx context.Context, r *pb.AuthUserAddRequest) (*pb.AuthUserAddResponse, error) {
	if r.Name == "" {
		return nil, rpctypes.ErrGRPCUserEmpty
	}
	req := &pb.AuthUserAddRequest{Name: r.Name, Options: r.Options}
	if !r.GetOptions().GetNoPassword() {
		h := r.HashedPassword
		if h == "" {
			var err error
			if h, err = s.hash(r.Password); err != nil {
				return nil, err
			}
		}
		req.HashedPassword = h
	}
	return authPropose[*pb.AuthUserAddResponse](ctx, s.b, &pb.InternalRaftRequest{AuthUserAdd: req})
}

func (s *authServer) UserChangePassword(ctx context.Context, r *pb.AuthUserChangePasswordRequest) (*pb.AuthUserChangePasswordResponse, error) {
	h := r.HashedPassword
	if h == "" {
		var err error
		if h, err = s.hash(r.Password); err != nil {
			return nil, err
		}
	}
	req := &pb.AuthUserChangePasswordRequest{Name: r.Name, HashedPassword: h}
	return authPropose[*pb.AuthUserChangePasswordResponse](ctx, s.b, &pb.InternalRaftRequest{AuthUserChangePassword: req})
}

func (s *authServer) UserGet(ctx context.Context, r *pb.AuthUserGetRequest) (*pb.AuthUserGetResponse, error) {
	return authPropose[*pb.AuthUserGetResponse](ctx, s.b, &pb.InternalRaftRequest{AuthUserGet: r})
}

func (s *authServer) UserList(ctx context.Context, r *pb.AuthUserListRequest) (*pb.AuthUserListResponse, error) {
	return authPropose[*pb.AuthUserListResponse](ctx, s.b, &pb.InternalRaftRequest{AuthUserList: r})
}

func (s *authServer) UserDelete(ctx context.Context, r *pb.AuthUserDeleteRequest) (*pb.AuthUserDeleteResponse, error) {
	return authPropose[*pb.AuthUserDeleteResponse](ctx, s.b, &pb.InternalRaftRequest{AuthUserDelete: r})
}

func (s *authServer) UserGrantRole(ctx context.Context, r *pb.AuthUserGrantRoleRequest) (*pb.AuthUserGrantRoleResponse, error) {
	return authPropose[*pb.AuthUserGrantRoleResponse](ctx, s.b, &pb.InternalRaftRequest{AuthUserGrantRole: r})
}

func (s *authServer) UserRevokeRole(ctx context.Context, r *pb.AuthUserRevokeRoleRequest) (*pb.AuthUserRevokeRoleResponse, error) {
	return authPropose[*pb.AuthUserRevokeRoleResponse](ctx, s.b, &pb.InternalRaftRequest{AuthUserRevokeRole: r})
}

func (s *authServer) RoleAdd(ctx context.Context, r *pb.AuthRoleAddRequest) (*pb.AuthRoleAddResponse, error) {
	return authPropose[*pb.AuthRoleAddResponse](ctx, s.b, &pb.InternalRaftRequest{AuthRoleAdd: r})
}

func (s *authServer) RoleGet(ctx context.Context, r *pb.AuthRoleGetRequest) (*pb.AuthRoleGetResponse, error) {
	return authPropose[*pb.AuthRoleGetResponse](ctx, s.b, &pb.InternalRaftRequest{AuthRoleGet: r})
}

func (s *authServer) RoleList(ctx context.Context, r *pb.AuthRoleListRequest) (*pb.AuthRoleListResponse, error) {
	return authPropose[*pb.AuthRoleListResponse](ctx, s.b, &pb.InternalRaftRequest{AuthRoleList: r})
}

func (s *authServer) RoleDelete(ctx context.Context, r *pb.AuthRoleDeleteRequest) (*pb.AuthRoleDeleteResponse, error) {
	return authPropose[*pb.AuthRoleDeleteResponse](ctx, s.b, &pb.InternalRaftRequest{AuthRoleDelete: r})
}

func (s *authServer) RoleGrantPermission(ctx context.Context, r *pb.AuthRoleGrantPermissionRequest) (*pb.AuthRoleGrantPermissionResponse, error) {
	return authPropose[*pb.AuthRoleGrantPermissionResponse](ctx, s.b, &pb.InternalRaftRequest{AuthRoleGrantPermission: r})
}

func (s *authServer) RoleRevokePermission(ctx context.Context, r *pb.AuthRoleRevokePermissionRequest) (*pb.AuthRoleRevokePermissionResponse, error) {
	return authPropose[*pb.AuthRoleRevokePermissionResponse](ctx, s.b, &pb.InternalRaftRequest{AuthRoleRevokePermission: r})
}
