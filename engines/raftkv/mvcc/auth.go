package mvcc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"
)

// etcd's auth buckets and keys, so that etcd reads the users, roles and the
// enabled flag of a store file we wrote (and we read etcd's).
var (
	authBucket      = []byte("auth")
	authUsersBucket = []byte("authUsers")
	authRolesBucket = []byte("authRoles")

	authEnabledKey  = []byte("authEnabled")
	authRevisionKey = []byte("authRevision")
)

// RootUser and RootRole are etcd's names: auth enable needs the user root
// holding the role root, and the role root may do everything.
const (
	RootUser = "root"
	RootRole = "root"
)

// AuthInfo is who sends a request: the user name and the auth revision the
// member saw when it resolved the user's token (etcd's auth.AuthInfo). A
// zero AuthInfo is a request without credentials.
type AuthInfo struct {
	Username string
	Revision uint64
}

// MemberAuth is the sender of the requests a member makes itself (lease
// revokes at expiry): root at a revision no change makes stale, as etcd's
// members use a root token.
var MemberAuth = AuthInfo{Username: RootUser, Revision: math.MaxUint64}

// authState is the auth store in memory: the buckets' contents plus each
// user's merged permissions. Guarded by Store.mu.
type authState struct {
	enabled bool
	rev     uint64
	users   map[string]*authpb.User
	roles   map[string]*authpb.Role
	perms   map[string]*userPerms

	// Copies of enabled and rev for readers that take no lock (every
	// request asks whether auth is on), written under mu with them.
	enabledA atomic.Bool
	revA     atomic.Uint64
}

// userPerms is the union of the key permissions of a user's roles.
type userPerms struct {
	read, write []permRange
}

// permRange is [begin, end); end nil is unbounded (etcd's "\x00" range end).
// A single-key permission k is [k, k+"\x00").
type permRange struct {
	begin, end []byte
}

func (s *Store) initAuth() {
	s.auth.enabled, s.auth.rev = false, 0
	s.auth.users = make(map[string]*authpb.User)
	s.auth.roles = make(map[string]*authpb.Role)
	s.auth.perms = make(map[string]*userPerms)
	s.publishAuth()
}

// publishAuth copies enabled and rev for lock-free readers. Caller holds mu
// exclusively (or is Open).
func (s *Store) publishAuth() {
	s.auth.enabledA.Store(s.auth.enabled)
	s.auth.revA.Store(s.auth.rev)
}

// createAuthBuckets creates the auth buckets and, on a fresh store, sets the
// auth revision to 1 as etcd's NewAuthStore does.
func createAuthBuckets(tx *bolt.Tx) error {
	for _, name := range [][]byte{authBucket, authUsersBucket, authRolesBucket} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	b := tx.Bucket(authBucket)
	if len(b.Get(authRevisionKey)) != 8 {
		return b.Put(authRevisionKey, binary.BigEndian.AppendUint64(nil, 1))
	}
	return nil
}

// loadAuth reads the auth buckets. Caller is rebuild.
func (s *Store) loadAuth(tx *bolt.Tx) error {
	s.initAuth()
	b := tx.Bucket(authBucket)
	s.auth.enabled = bytes.Equal(b.Get(authEnabledKey), []byte{1})
	if v := b.Get(authRevisionKey); len(v) == 8 {
		s.auth.rev = binary.BigEndian.Uint64(v)
	}
	s.publishAuth()
	if err := tx.Bucket(authUsersBucket).ForEach(func(k, v []byte) error {
		u := &authpb.User{}
		if err := proto.Unmarshal(v, u); err != nil {
			return fmt.Errorf("%w: user %q: %v", ErrCorrupt, k, err)
		}
		s.auth.users[string(u.Name)] = u
		return nil
	}); err != nil {
		return err
	}
	if err := tx.Bucket(authRolesBucket).ForEach(func(k, v []byte) error {
		r := &authpb.Role{}
		if err := proto.Unmarshal(v, r); err != nil {
			return fmt.Errorf("%w: role %q: %v", ErrCorrupt, k, err)
		}
		s.auth.roles[string(r.Name)] = r
		return nil
	}); err != nil {
		return err
	}
	s.refreshPerms()
	return nil
}

// refreshPerms rebuilds every user's merged permissions (etcd's
// refreshRangePermCache). Caller holds mu exclusively.
func (s *Store) refreshPerms() {
	s.auth.perms = make(map[string]*userPerms, len(s.auth.users))
	for name, u := range s.auth.users {
		up := &userPerms{}
		for _, rn := range u.Roles {
			r := s.auth.roles[rn]
			if r == nil {
				continue
			}
			for _, p := range r.KeyPermission {
				pr := permRange{begin: p.Key}
				switch {
				case len(p.RangeEnd) == 0:
					pr.end = append(slices.Clip(p.Key), 0)
				case isOpenEnded(p.RangeEnd):
					pr.end = nil
				default:
					pr.end = p.RangeEnd
				}
				if p.PermType == authpb.READ || p.PermType == authpb.READWRITE {
					up.read = append(up.read, pr)
				}
				if p.PermType == authpb.WRITE || p.PermType == authpb.READWRITE {
					up.write = append(up.write, pr)
				}
			}
		}
		for _, l := range [][]permRange{up.read, up.write} {
			slices.SortFunc(l, func(a, b permRange) int { return bytes.Compare(a.begin, b.begin) })
		}
		s.auth.perms[name] = up
	}
}

func isOpenEnded(end []byte) bool { return len(end) == 1 && end[0] == 0 }

// covers reports whether the union of rs (sorted by begin) holds every key of
// [key, end); end nil is unbounded. An empty interval (end <= key) is
// checked as the single key.
func covers(rs []permRange, key, end []byte) bool {
	if end != nil && bytes.Compare(end, key) <= 0 {
		end = append(slices.Clip(key), 0)
	}
	at := key // every key below at is covered
	for _, r := range rs {
		if bytes.Compare(r.begin, at) > 0 {
			return false // a gap at [at, r.begin)
		}
		if r.end == nil {
			return true
		}
		if bytes.Compare(r.end, at) > 0 {
			at = r.end
		}
		if end != nil && bytes.Compare(at, end) >= 0 {
			return true
		}
	}
	return false
}

func hasRootRole(u *authpb.User) bool {
	_, ok := slices.BinarySearch(u.Roles, RootRole)
	return ok
}

// isOpPermitted is etcd's authStore.isOpPermitted: with auth enabled, a
// request needs a user, an auth revision not older than the store's, and a
// permission of type typ covering [key, end) (end empty: the key alone; end
// "\x00": every key from key). Caller holds mu.
func (s *Store) isOpPermitted(ai AuthInfo, key, end []byte, write bool) error {
	if !s.auth.enabled {
		return nil
	}
	if ai.Revision == 0 {
		return rpctypes.ErrGRPCUserEmpty
	}
	if ai.Revision < s.auth.rev {
		return rpctypes.ErrGRPCAuthOldRevision
	}
	u := s.auth.users[ai.Username]
	if u == nil {
		return rpctypes.ErrGRPCPermissionDenied
	}
	if hasRootRole(u) {
		return nil
	}
	up := s.auth.perms[ai.Username]
	if up == nil {
		return rpctypes.ErrGRPCPermissionDenied
	}
	rs := up.read
	if write {
		rs = up.write
	}
	switch {
	case len(end) == 0:
		end = append(slices.Clip(key), 0)
	case isOpenEnded(end):
		end = nil
	}
	if covers(rs, key, end) {
		return nil
	}
	return rpctypes.ErrGRPCPermissionDenied
}

// isAdmin is etcd's IsAdminPermitted: with auth enabled, the user must exist
// and hold the root role. Caller holds mu.
func (s *Store) isAdmin(ai AuthInfo) error {
	if !s.auth.enabled {
		return nil
	}
	if ai.Username == "" {
		return rpctypes.ErrGRPCUserEmpty
	}
	u := s.auth.users[ai.Username]
	if u == nil {
		return rpctypes.ErrGRPCUserNotFound
	}
	if !hasRootRole(u) {
		return rpctypes.ErrGRPCPermissionDenied
	}
	return nil
}

// AuthEnabled reports whether authentication is on.
func (s *Store) AuthEnabled() bool { return s.auth.enabledA.Load() }

// AuthRevision is the auth store's revision (etcd's authRevision): 1 on a
// fresh store, +1 at every change of users, roles or permissions and at
// auth disable.
func (s *Store) AuthRevision() uint64 { return s.auth.revA.Load() }

// AuthUser returns a copy of user name (nil if absent), with the auth
// revision it was read at.
func (s *Store) AuthUser(name string) (*authpb.User, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.auth.users[name]
	if u == nil {
		return nil, s.auth.rev
	}
	return proto.Clone(u).(*authpb.User), s.auth.rev
}

// IsRangePermitted checks a read of [key, end) (etcd's conventions for end).
func (s *Store) IsRangePermitted(ai AuthInfo, key, end []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.isOpPermitted(ai, key, end, false)
}

// IsPutPermitted checks a write of key.
func (s *Store) IsPutPermitted(ai AuthInfo, key []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.isOpPermitted(ai, key, nil, true)
}

// IsAdminPermitted checks that ai is a user with the root role (or that
// auth is off).
func (s *Store) IsAdminPermitted(ai AuthInfo) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.isAdmin(ai)
}

// CheckTxnAuth is etcd's checkTxnAuth for a txn served as a read.
func (s *Store) CheckTxnAuth(ai AuthInfo, rt *pb.TxnRequest) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkTxnAuth(ai, rt)
}

// CheckLeaseKeys checks that ai may write (or, read false, read) every key
// attached to lease id; an admin may always. A lease that does not exist
// passes (the caller answers its own not-found).
func (s *Store) CheckLeaseKeys(ai AuthInfo, id int64, write bool) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkLeaseKeys(ai, id, write)
}

func (s *Store) checkLeaseKeys(ai AuthInfo, id int64, write bool) error {
	if !s.auth.enabled {
		return nil
	}
	if s.isAdmin(ai) == nil {
		return nil
	}
	l := s.leases[id]
	if l == nil {
		return nil
	}
	for _, k := range l.sortedKeys() {
		if err := s.isOpPermitted(ai, []byte(k), nil, write); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) checkPutAuth(ai AuthInfo, p *pb.PutRequest) error {
	if err := s.isOpPermitted(ai, p.Key, nil, true); err != nil {
		return err
	}
	if err := s.checkLeaseKeys(ai, p.Lease, true); err != nil {
		// The lease holds a key this user cannot write, so cannot revoke:
		// it may not attach keys to it either.
		return err
	}
	if p.PrevKv {
		return s.isOpPermitted(ai, p.Key, nil, false)
	}
	return nil
}

func (s *Store) checkDeleteAuth(ai AuthInfo, d *pb.DeleteRangeRequest) error {
	if err := s.isOpPermitted(ai, d.Key, d.RangeEnd, true); err != nil {
		return err
	}
	if d.PrevKv {
		return s.isOpPermitted(ai, d.Key, d.RangeEnd, false)
	}
	return nil
}

// checkTxnAuth checks every compare (read) and every op of both branches,
// nested txns included (etcd's checkTxnAuth after its nested-txn fix).
func (s *Store) checkTxnAuth(ai AuthInfo, rt *pb.TxnRequest) error {
	if !s.auth.enabled {
		return nil
	}
	for _, c := range rt.Compare {
		if err := s.isOpPermitted(ai, c.Key, c.RangeEnd, false); err != nil {
			return err
		}
	}
	for _, ops := range [][]*pb.RequestOp{rt.Success, rt.Failure} {
		for _, op := range ops {
			var err error
			switch {
			case op.GetRequestRange() != nil:
				r := op.GetRequestRange()
				err = s.isOpPermitted(ai, r.Key, r.RangeEnd, false)
			case op.GetRequestPut() != nil:
				err = s.checkPutAuth(ai, op.GetRequestPut())
			case op.GetRequestDeleteRange() != nil:
				err = s.checkDeleteAuth(ai, op.GetRequestDeleteRange())
			case op.GetRequestTxn() != nil:
				err = s.checkTxnAuth(ai, op.GetRequestTxn())
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// authInfoOf is the sender of an entry, as the proposing member put it in
// the header.
func authInfoOf(req *pb.InternalRaftRequest) AuthInfo {
	h := req.GetHeader()
	return AuthInfo{Username: h.GetUsername(), Revision: h.GetAuthRevision()}
}

// needAdmin lists the requests only an admin may make (etcd's
// needAdminPermission).
func needAdmin(req *pb.InternalRaftRequest) bool {
	return req.AuthEnable != nil || req.AuthDisable != nil || req.AuthStatus != nil ||
		req.AuthUserAdd != nil || req.AuthUserDelete != nil || req.AuthUserChangePassword != nil ||
		req.AuthUserGrantRole != nil || req.AuthUserRevokeRole != nil || req.AuthRoleAdd != nil ||
		req.AuthRoleGrantPermission != nil || req.AuthRoleRevokePermission != nil ||
		req.AuthRoleDelete != nil || req.AuthUserList != nil || req.AuthRoleList != nil
}

// isAuthRequest reports whether req is one of the Auth service's.
func isAuthRequest(req *pb.InternalRaftRequest) bool {
	return needAdmin(req) || req.Authenticate != nil || req.AuthUserGet != nil || req.AuthRoleGet != nil
}

// authorize is etcd's authApplierV3 in front of the store: admin requests
// need the root role, writes and reads need the permissions of their keys,
// a lease revoke needs write on every key of the lease. Caller holds mu.
func (s *Store) authorize(req *pb.InternalRaftRequest) error {
	if !s.auth.enabled {
		return nil
	}
	ai := authInfoOf(req)
	if needAdmin(req) {
		return s.isAdmin(ai)
	}
	switch {
	case req.Range != nil:
		return s.isOpPermitted(ai, req.Range.Key, req.Range.RangeEnd, false)
	case req.Put != nil:
		return s.checkPutAuth(ai, req.Put)
	case req.DeleteRange != nil:
		return s.checkDeleteAuth(ai, req.DeleteRange)
	case req.Txn != nil:
		return s.checkTxnAuth(ai, req.Txn)
	case req.LeaseRevoke != nil:
		return s.checkLeaseKeys(ai, req.LeaseRevoke.ID, true)
	case req.AuthUserGet != nil:
		// A user may read itself.
		if err := s.isAdmin(ai); err != nil && req.AuthUserGet.Name != ai.Username {
			return err
		}
	case req.AuthRoleGet != nil:
		// A user may read the roles it holds.
		if err := s.isAdmin(ai); err != nil {
			u := s.auth.users[ai.Username]
			if u == nil || !slices.Contains(u.Roles, req.AuthRoleGet.Role) {
				return err
			}
		}
	}
	return nil
}

// applyAuth applies one auth request. Caller holds mu exclusively, the
// write txn is open.
func (s *Store) applyAuth(index uint64, req *pb.InternalRaftRequest) (proto.Message, error) {
	switch {
	case req.Authenticate != nil:
		return msg(s.applyAuthenticate(index, req.Authenticate))
	case req.AuthEnable != nil:
		return msg(s.applyAuthEnable())
	case req.AuthDisable != nil:
		if s.auth.enabled {
			s.auth.enabled = false
			s.publishAuth()
			s.authPut(authBucket, authEnabledKey, []byte{0})
			s.bumpAuthRev()
			s.log.Info("disabled authentication")
		}
		return &pb.AuthDisableResponse{Header: header(s.rev)}, nil
	case req.AuthStatus != nil:
		return &pb.AuthStatusResponse{Header: header(s.rev), Enabled: s.auth.enabled, AuthRevision: s.auth.rev}, nil
	case req.AuthUserAdd != nil:
		return msg(s.applyUserAdd(req.AuthUserAdd))
	case req.AuthUserDelete != nil:
		return msg(s.applyUserDelete(req.AuthUserDelete))
	case req.AuthUserChangePassword != nil:
		return msg(s.applyUserChangePassword(req.AuthUserChangePassword))
	case req.AuthUserGrantRole != nil:
		return msg(s.applyUserGrantRole(req.AuthUserGrantRole))
	case req.AuthUserGet != nil:
		u := s.auth.users[req.AuthUserGet.Name]
		if u == nil {
			return nil, rpctypes.ErrGRPCUserNotFound
		}
		return &pb.AuthUserGetResponse{Header: header(s.rev), Roles: slices.Clone(u.Roles)}, nil
	case req.AuthUserRevokeRole != nil:
		return msg(s.applyUserRevokeRole(req.AuthUserRevokeRole))
	case req.AuthUserList != nil:
		resp := &pb.AuthUserListResponse{Header: header(s.rev), Users: []string{}}
		for name := range s.auth.users {
			resp.Users = append(resp.Users, name)
		}
		slices.Sort(resp.Users)
		return resp, nil
	case req.AuthRoleAdd != nil:
		return msg(s.applyRoleAdd(req.AuthRoleAdd))
	case req.AuthRoleGet != nil:
		r := s.auth.roles[req.AuthRoleGet.Role]
		if r == nil {
			return nil, rpctypes.ErrGRPCRoleNotFound
		}
		resp := &pb.AuthRoleGetResponse{Header: header(s.rev)}
		for _, p := range r.KeyPermission {
			resp.Perm = append(resp.Perm, proto.Clone(p).(*authpb.Permission))
		}
		return resp, nil
	case req.AuthRoleList != nil:
		resp := &pb.AuthRoleListResponse{Header: header(s.rev), Roles: []string{}}
		for name := range s.auth.roles {
			resp.Roles = append(resp.Roles, name)
		}
		slices.Sort(resp.Roles)
		return resp, nil
	case req.AuthRoleGrantPermission != nil:
		return msg(s.applyRoleGrantPermission(req.AuthRoleGrantPermission))
	case req.AuthRoleRevokePermission != nil:
		return msg(s.applyRoleRevokePermission(req.AuthRoleRevokePermission))
	case req.AuthRoleDelete != nil:
		return msg(s.applyRoleDelete(req.AuthRoleDelete))
	}
	return nil, fmt.Errorf("%w: auth request %v", ErrUnsupported, req)
}

// SimpleToken returns etcd's simple token for an Authenticate entry: the
// random prefix the proposer drew, a dot, and the entry's raft index.
func SimpleToken(prefix string, index uint64) string {
	return prefix + "." + strconv.FormatUint(index, 10)
}

func (s *Store) applyAuthenticate(index uint64, r *pb.InternalAuthenticateRequest) (*pb.AuthenticateResponse, error) {
	if !s.auth.enabled {
		return nil, rpctypes.ErrGRPCAuthNotEnabled
	}
	u := s.auth.users[r.Name]
	if u == nil || u.GetOptions().GetNoPassword() {
		return nil, rpctypes.ErrGRPCAuthFailed
	}
	resp := &pb.AuthenticateResponse{Header: header(s.rev)}
	if r.SimpleToken != "" {
		resp.Token = SimpleToken(r.SimpleToken, index)
	}
	return resp, nil
}

func (s *Store) applyAuthEnable() (*pb.AuthEnableResponse, error) {
	if !s.auth.enabled {
		u := s.auth.users[RootUser]
		if u == nil {
			return nil, rpctypes.ErrGRPCRootUserNotExist
		}
		if !hasRootRole(u) {
			return nil, rpctypes.ErrGRPCRootRoleNotExist
		}
		s.auth.enabled = true
		s.publishAuth()
		s.authPut(authBucket, authEnabledKey, []byte{1})
		s.log.Info("enabled authentication")
	}
	return &pb.AuthEnableResponse{Header: header(s.rev)}, nil
}

func (s *Store) applyUserAdd(r *pb.AuthUserAddRequest) (*pb.AuthUserAddResponse, error) {
	if r.Name == "" {
		return nil, rpctypes.ErrGRPCUserEmpty
	}
	if s.auth.users[r.Name] != nil {
		return nil, rpctypes.ErrGRPCUserAlreadyExist
	}
	opts := r.Options
	if opts == nil {
		opts = &authpb.UserAddOptions{}
	}
	u := &authpb.User{Name: []byte(r.Name), Options: proto.Clone(opts).(*authpb.UserAddOptions)}
	if !opts.NoPassword {
		h, err := hashOf(r.Password, r.HashedPassword)
		if err != nil {
			return nil, err
		}
		u.Password = h
	}
	s.putUser(u)
	return &pb.AuthUserAddResponse{Header: header(s.rev)}, nil
}

// hashOf is the bcrypt hash the proposer computed (the password itself is
// never in the log); an entry with a clear password only (which raftkv
// never proposes) is hashed here at etcd's default cost.
func hashOf(password, hashed string) ([]byte, error) {
	if hashed != "" {
		return []byte(hashed), nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("mvcc: hash password: %w", err)
	}
	return h, nil
}

func (s *Store) applyUserDelete(r *pb.AuthUserDeleteRequest) (*pb.AuthUserDeleteResponse, error) {
	if s.auth.enabled && r.Name == RootUser {
		return nil, rpctypes.ErrGRPCInvalidAuthMgmt
	}
	if s.auth.users[r.Name] == nil {
		return nil, rpctypes.ErrGRPCUserNotFound
	}
	delete(s.auth.users, r.Name)
	if err := s.tx.Bucket(authUsersBucket).Delete([]byte(r.Name)); err != nil {
		panic(fmt.Sprintf("mvcc: delete user %q: %v", r.Name, err))
	}
	s.authChanged()
	return &pb.AuthUserDeleteResponse{Header: header(s.rev)}, nil
}

func (s *Store) applyUserChangePassword(r *pb.AuthUserChangePasswordRequest) (*pb.AuthUserChangePasswordResponse, error) {
	old := s.auth.users[r.Name]
	if old == nil {
		return nil, rpctypes.ErrGRPCUserNotFound
	}
	h, err := hashOf(r.Password, r.HashedPassword)
	if err != nil {
		return nil, err
	}
	u := proto.Clone(old).(*authpb.User)
	u.Password = h
	s.putUser(u)
	return &pb.AuthUserChangePasswordResponse{Header: header(s.rev)}, nil
}

func (s *Store) applyUserGrantRole(r *pb.AuthUserGrantRoleRequest) (*pb.AuthUserGrantRoleResponse, error) {
	old := s.auth.users[r.User]
	if old == nil {
		return nil, rpctypes.ErrGRPCUserNotFound
	}
	// etcd lets the role root be granted without adding it first.
	if r.Role != RootRole && s.auth.roles[r.Role] == nil {
		return nil, rpctypes.ErrGRPCRoleNotFound
	}
	i, found := slices.BinarySearch(old.Roles, r.Role)
	if found {
		return &pb.AuthUserGrantRoleResponse{Header: header(s.rev)}, nil
	}
	u := proto.Clone(old).(*authpb.User)
	u.Roles = slices.Insert(u.Roles, i, r.Role)
	s.putUser(u)
	return &pb.AuthUserGrantRoleResponse{Header: header(s.rev)}, nil
}

func (s *Store) applyUserRevokeRole(r *pb.AuthUserRevokeRoleRequest) (*pb.AuthUserRevokeRoleResponse, error) {
	if s.auth.enabled && r.Name == RootUser && r.Role == RootRole {
		return nil, rpctypes.ErrGRPCInvalidAuthMgmt
	}
	old := s.auth.users[r.Name]
	if old == nil {
		return nil, rpctypes.ErrGRPCUserNotFound
	}
	i, found := slices.BinarySearch(old.Roles, r.Role)
	if !found {
		return nil, rpctypes.ErrGRPCRoleNotGranted
	}
	u := proto.Clone(old).(*authpb.User)
	u.Roles = slices.Delete(u.Roles, i, i+1)
	s.putUser(u)
	return &pb.AuthUserRevokeRoleResponse{Header: header(s.rev)}, nil
}

func (s *Store) applyRoleAdd(r *pb.AuthRoleAddRequest) (*pb.AuthRoleAddResponse, error) {
	if r.Name == "" {
		return nil, rpctypes.ErrGRPCRoleEmpty
	}
	if s.auth.roles[r.Name] != nil {
		return nil, rpctypes.ErrGRPCRoleAlreadyExist
	}
	s.putRole(&authpb.Role{Name: []byte(r.Name)})
	return &pb.AuthRoleAddResponse{Header: header(s.rev)}, nil
}

// isValidPermissionRange is etcd's: a key, and an end that is absent, above
// the key, or "\x00" (every key from key).
func isValidPermissionRange(key, end []byte) bool {
	if len(key) == 0 {
		return false
	}
	return len(end) == 0 || bytes.Compare(key, end) < 0 || isOpenEnded(end)
}

func (s *Store) applyRoleGrantPermission(r *pb.AuthRoleGrantPermissionRequest) (*pb.AuthRoleGrantPermissionResponse, error) {
	if r.Perm == nil {
		return nil, rpctypes.ErrGRPCPermissionNotGiven
	}
	if !isValidPermissionRange(r.Perm.Key, r.Perm.RangeEnd) {
		return nil, rpctypes.ErrGRPCInvalidAuthMgmt
	}
	old := s.auth.roles[r.Name]
	if old == nil {
		return nil, rpctypes.ErrGRPCRoleNotFound
	}
	role := proto.Clone(old).(*authpb.Role)
	i, _ := slices.BinarySearchFunc(role.KeyPermission, r.Perm.Key, func(p *authpb.Permission, k []byte) int {
		return bytes.Compare(p.Key, k)
	})
	if i < len(role.KeyPermission) && bytes.Equal(role.KeyPermission[i].Key, r.Perm.Key) &&
		bytes.Equal(role.KeyPermission[i].RangeEnd, r.Perm.RangeEnd) {
		role.KeyPermission[i].PermType = r.Perm.PermType
	} else {
		p := &authpb.Permission{Key: slices.Clone(r.Perm.Key), RangeEnd: slices.Clone(r.Perm.RangeEnd), PermType: r.Perm.PermType}
		role.KeyPermission = append(role.KeyPermission, p)
		slices.SortStableFunc(role.KeyPermission, func(a, b *authpb.Permission) int { return bytes.Compare(a.Key, b.Key) })
	}
	s.putRole(role)
	return &pb.AuthRoleGrantPermissionResponse{Header: header(s.rev)}, nil
}

func (s *Store) applyRoleRevokePermission(r *pb.AuthRoleRevokePermissionRequest) (*pb.AuthRoleRevokePermissionResponse, error) {
	old := s.auth.roles[r.Role]
	if old == nil {
		return nil, rpctypes.ErrGRPCRoleNotFound
	}
	role := &authpb.Role{Name: old.Name}
	for _, p := range old.KeyPermission {
		if !bytes.Equal(p.Key, r.Key) || !bytes.Equal(p.RangeEnd, r.RangeEnd) {
			role.KeyPermission = append(role.KeyPermission, p)
		}
	}
	if len(role.KeyPermission) == len(old.KeyPermission) {
		return nil, rpctypes.ErrGRPCPermissionNotGranted
	}
	s.putRole(role)
	return &pb.AuthRoleRevokePermissionResponse{Header: header(s.rev)}, nil
}

func (s *Store) applyRoleDelete(r *pb.AuthRoleDeleteRequest) (*pb.AuthRoleDeleteResponse, error) {
	if s.auth.enabled && r.Role == RootRole {
		return nil, rpctypes.ErrGRPCInvalidAuthMgmt
	}
	if s.auth.roles[r.Role] == nil {
		return nil, rpctypes.ErrGRPCRoleNotFound
	}
	delete(s.auth.roles, r.Role)
	if err := s.tx.Bucket(authRolesBucket).Delete([]byte(r.Role)); err != nil {
		panic(fmt.Sprintf("mvcc: delete role %q: %v", r.Role, err))
	}
	names := make([]string, 0, len(s.auth.users))
	for name := range s.auth.users {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		u := s.auth.users[name]
		if i, found := slices.BinarySearch(u.Roles, r.Role); found {
			nu := proto.Clone(u).(*authpb.User)
			nu.Roles = slices.Delete(nu.Roles, i, i+1)
			s.auth.users[name] = nu
			s.authPut(authUsersBucket, nu.Name, marshalAuth(nu))
		}
	}
	s.authChanged()
	return &pb.AuthRoleDeleteResponse{Header: header(s.rev)}, nil
}

func (s *Store) putUser(u *authpb.User) {
	s.auth.users[string(u.Name)] = u
	s.authPut(authUsersBucket, u.Name, marshalAuth(u))
	s.authChanged()
}

func (s *Store) putRole(r *authpb.Role) {
	s.auth.roles[string(r.Name)] = r
	s.authPut(authRolesBucket, r.Name, marshalAuth(r))
	s.authChanged()
}

// authChanged bumps the auth revision and rebuilds the permissions.
func (s *Store) authChanged() {
	s.bumpAuthRev()
	s.refreshPerms()
}

func (s *Store) bumpAuthRev() {
	s.auth.rev++
	s.publishAuth()
	s.authPut(authBucket, authRevisionKey, binary.BigEndian.AppendUint64(nil, s.auth.rev))
}

func (s *Store) authPut(bucket, k, v []byte) {
	if err := s.tx.Bucket(bucket).Put(k, v); err != nil {
		panic(fmt.Sprintf("mvcc: write %s/%q: %v", bucket, k, err))
	}
	s.dirty = true
}

func marshalAuth(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("mvcc: marshal %T: %v", m, err))
	}
	return b
}
