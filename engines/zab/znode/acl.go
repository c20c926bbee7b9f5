package znode

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"strings"

	"coordlab/engines/zab/jute"
)

// DigestID turns the auth data of `addauth digest user:password` into the
// id ZooKeeper stores for it: digest:user:base64(sha1("user:password")).
// Like ZooKeeper's DigestAuthenticationProvider, it accepts any data: the
// user is the part before the first colon (all of it when there is none,
// so `addauth digest foo` is digest:foo:base64(sha1("foo"))), no password
// is checked, and a wrong password surfaces later as ZNOAUTH.
func DigestID(userPassword string) jute.Id {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return jute.Id{Scheme: "digest", ID: user + ":" + base64.StdEncoding.EncodeToString(sum[:])}
}

// checkACL reports whether a caller with the given auth ids may perform
// perm on a node with acl. world:anyone matches everyone, digest ids match
// exactly, an ip ACL (address or CIDR) matches a caller id ip:<address>
// (the server adds one per connection, as ZooKeeper does), a "super" id
// matches everything, and an empty ACL allows all (as in ZooKeeper).
func checkACL(acl []jute.ACL, perm int32, auth []jute.Id) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range auth {
		if id.Scheme == "super" {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return true
		}
		for _, id := range auth {
			if id == a.ID || a.ID.Scheme == "ip" && id.Scheme == "ip" && ipMatches(a.ID.ID, id.ID) {
				return true
			}
		}
	}
	return false
}

// ipMatches reports whether the address addr is in expr, an address or a
// CIDR prefix.
func ipMatches(expr, addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	if p, err := netip.ParsePrefix(expr); err == nil {
		return p.Contains(a.Unmap())
	}
	e, err := netip.ParseAddr(expr)
	return err == nil && e.Unmap() == a.Unmap()
}

func validIPExpr(expr string) bool {
	if _, err := netip.ParsePrefix(expr); err == nil {
		return true
	}
	_, err := netip.ParseAddr(expr)
	return err == nil
}

// fixupACL validates an ACL from a client and expands the auth scheme to
// the caller's ids, as ZooKeeper's PrepRequestProcessor.fixupACL does.
func fixupACL(acl []jute.ACL, auth []jute.Id) ([]jute.ACL, error) {
	if len(acl) == 0 {
		return nil, ErrInvalidACL
	}
	if len(acl) == 1 && acl[0].ID == jute.WorldAnyone {
		return acl, nil // the common case, without allocating
	}
	out := make([]jute.ACL, 0, len(acl))
	add := func(a jute.ACL) {
		for _, b := range out {
			if a == b {
				return
			}
		}
		out = append(out, a)
	}
	for _, a := range acl {
		switch a.ID.Scheme {
		case "world":
			if a.ID.ID != "anyone" {
				return nil, ErrInvalidACL
			}
			add(a)
		case "digest":
			if !strings.Contains(a.ID.ID, ":") {
				return nil, ErrInvalidACL
			}
			add(a)
		case "ip":
			if !validIPExpr(a.ID.ID) {
				return nil, ErrInvalidACL
			}
			add(a)
		case "auth":
			n := 0
			for _, id := range auth {
				if id.Scheme == "digest" {
					add(jute.ACL{Perms: a.Perms, ID: id})
					n++
				}
			}
			if n == 0 {
				return nil, ErrInvalidACL
			}
		default:
			return nil, ErrInvalidACL
		}
	}
	return out, nil
}
