package znode

import (
	"strings"
	"unicode/utf8"
)

// ValidatePath checks a znode path as ZooKeeper's PathUtils.validatePath
// does: absolute, no trailing slash (except "/"), no empty, "." or ".."
// component, no NUL and none of the characters ZooKeeper reserves
// (U+0001–U+001F, U+007F–U+009F, U+D800–U+F8FF, U+FFF0–U+FFFF). A bad path
// is ErrBadArguments (ZBADARGUMENTS).
func ValidatePath(path string) error {
	if !validPath(path) {
		return ErrBadArguments
	}
	return nil
}

func validPath(path string) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if path[len(path)-1] == '/' {
		return false
	}
	if !utf8.ValidString(path) {
		return false
	}
	start := 1
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		comp := path[start:i]
		if comp == "" || comp == "." || comp == ".." {
			return false
		}
		start = i + 1
	}
	for _, r := range path {
		switch {
		case r == 0,
			r > 0 && r < 0x1f+1,
			r >= 0x7f && r <= 0x9f,
			r >= 0xd800 && r <= 0xf8ff,
			r >= 0xfff0 && r <= 0xffff:
			return false
		}
	}
	return true
}

// parentOf returns the parent path of a valid non-root path.
func parentOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// baseOf returns the last component of a valid non-root path.
func baseOf(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// isSystemPath reports whether path is one of ZooKeeper's special nodes,
// which clients may not delete (ZBADARGUMENTS, observed on 3.8.0); other
// nodes may be created below /zookeeper.
func isSystemPath(path string) bool {
	return path == "/zookeeper" || path == "/zookeeper/quota" || path == "/zookeeper/config"
}
