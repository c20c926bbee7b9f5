package znode

import (
	"slices"
	"strconv"
	"strings"
)

// Quota statistics, as ZooKeeper 3.8's DataTree keeps them: a path P has a
// quota when /zookeeper/quota/P/zookeeper_limits exists (zkCli's setquota
// writes it), and the server keeps /zookeeper/quota/P/zookeeper_stats at
// "count=<nodes under P, P included>,bytes=<their data>" as txns apply:
// recomputed when the stats node is created, adjusted by every create,
// delete and setData below P (the deepest such P), without a txn of its own
// or a change to the stats node's Stat. zab enforces no limit (ZooKeeper
// only warns unless enforceQuota=true, which zab refuses).

const (
	quotaRoot      = "/zookeeper/quota"
	quotaLimitNode = "zookeeper_limits"
	quotaStatNode  = "zookeeper_stats"
)

// quotaPrefix is ZooKeeper's getMaxPrefixWithQuota: the deepest
// ancestor-or-self of path with a quota, "" for none (the root never has
// one).
func (t *Tree) quotaPrefix(path string) string {
	if q := t.nodes[quotaRoot]; q == nil || len(q.children) == 0 {
		return ""
	}
	for p := path; p != "/" && p != ""; p = parentOf(p) {
		if t.nodes[quotaRoot+p+"/"+quotaLimitNode] != nil {
			return p
		}
	}
	return ""
}

// quotaAfterCreate runs ZooKeeper's quota steps for a node just created.
func (t *Tree) quotaAfterCreate(path string, dataLen int) {
	if parent, ok := strings.CutPrefix(parentOf(path), quotaRoot); ok && baseOf(path) == quotaStatNode && parent != "" {
		t.quotaRecount(parent)
	}
	if p := t.quotaPrefix(path); p != "" {
		t.quotaAdd(p, int64(dataLen), 1)
	}
}

// quotaRecount is ZooKeeper's updateQuotaForPath: the stats of p from its
// subtree.
func (t *Tree) quotaRecount(p string) {
	var count, bytes int64
	var walk func(path string)
	walk = func(path string) {
		n := t.nodes[path]
		if n == nil {
			return
		}
		count++
		bytes += int64(len(n.data))
		for c := range n.children {
			walk(childPath(path, c))
		}
	}
	walk(p)
	t.quotaSet(p, func(c, b int64) (int64, int64) { return count, bytes })
}

// quotaAdd is ZooKeeper's updateQuotaStat.
func (t *Tree) quotaAdd(p string, bytesDiff, countDiff int64) {
	t.quotaSet(p, func(c, b int64) (int64, int64) { return c + countDiff, b + bytesDiff })
}

func (t *Tree) quotaSet(p string, f func(count, bytes int64) (int64, int64)) {
	n := t.nodes[quotaRoot+p+"/"+quotaStatNode]
	if n == nil {
		return // ZooKeeper logs "Missing node for stat" and goes on
	}
	count, bytes, extra := parseStatsTrack(string(n.data))
	count, bytes = f(count, bytes)
	data := []byte(formatStatsTrack(count, bytes, extra))
	t.dataSize += int64(len(data) - len(n.data))
	n.data = data
}

// parseStatsTrack reads ZooKeeper's StatsTrack text: count=N,bytes=M, then
// possibly "=;key=value;..." (3.7+ hard limits).
func parseStatsTrack(s string) (count, bytes int64, extra map[string]string) {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		k, v, _ := strings.Cut(f, "=")
		v = strings.TrimSuffix(v, "=")
		switch k {
		case "count":
			count, _ = strconv.ParseInt(v, 10, 64)
		case "bytes":
			bytes, _ = strconv.ParseInt(v, 10, 64)
		case "":
		default:
			if extra == nil {
				extra = map[string]string{}
			}
			extra[k] = v
		}
	}
	return count, bytes, extra
}

// formatStatsTrack is StatsTrack.toString.
func formatStatsTrack(count, bytes int64, extra map[string]string) string {
	s := "count=" + strconv.FormatInt(count, 10) + ",bytes=" + strconv.FormatInt(bytes, 10)
	if len(extra) == 0 {
		return s
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s += "="
	for _, k := range keys {
		s += ";" + k + "=" + extra[k]
	}
	return s
}
