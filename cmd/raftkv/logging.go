package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// etcd 3.4's two loggers, as log/slog handlers. The engine logs etcd's zap
// messages and field names at the moments etcd logs them (capnsLines below
// lists the ones with a capnslog form); --logger=zap writes them as etcd's
// JSON lines, and
// --logger=capnslog (etcd 3.4's default) writes etcd's capnslog text for
// them, so scripts that wait for "ready to serve client requests" or
// "became leader at term" work on either server.

// capnslog levels, as etcd's --log-package-levels names them.
const (
	levelTrace    = slog.LevelDebug - 4
	levelNotice   = slog.LevelInfo + 2
	levelCritical = slog.LevelError + 4
)

// parseLevel reads --log-level (debug, info, warn, error, panic, fatal) or a
// capnslog level name of --log-package-levels.
func parseLevel(s string) (slog.Level, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TRACE":
		return levelTrace, true
	case "DEBUG", "D":
		return slog.LevelDebug, true
	case "INFO", "I":
		return slog.LevelInfo, true
	case "NOTICE", "N":
		return levelNotice, true
	case "WARN", "WARNING", "W":
		return slog.LevelWarn, true
	case "ERROR", "E":
		return slog.LevelError, true
	case "PANIC", "FATAL", "CRITICAL", "C", "DPANIC":
		return levelCritical, true
	}
	return 0, false
}

// etcdLine is how capnslog prints one of etcd's zap messages: its package
// and its text built from the record's fields. Messages not listed print as
// "etcdserver: msg key=value ...".
type etcdLine struct {
	pkg    string
	level  slog.Level // capnslog's level for it where it differs from zap's
	format func(f map[string]any) string
}

var capnsLines = map[string]etcdLine{
	"starting local member": {pkg: "etcdserver", format: func(f map[string]any) string {
		return fmt.Sprintf("starting member %v in cluster %v", f["local-member-id"], f["cluster-id"])
	}},
	"restarting local member": {pkg: "etcdserver", format: func(f map[string]any) string {
		return fmt.Sprintf("restarting member %v in cluster %v at commit index %v", f["local-member-id"], f["cluster-id"], f["commit-index"])
	}},
	"added member": {pkg: "etcdserver/membership", format: func(f map[string]any) string {
		return fmt.Sprintf("added member %v %v to cluster %v", f["added-peer-id"], bracket(f["added-peer-peer-urls"]), f["cluster-id"])
	}},
	"removed member": {pkg: "etcdserver/membership", format: func(f map[string]any) string {
		return fmt.Sprintf("removed member %v from cluster %v", f["removed-remote-peer-id"], f["cluster-id"])
	}},
	"forcing restart member": {pkg: "etcdserver", level: slog.LevelWarn, format: func(f map[string]any) string {
		return fmt.Sprintf("forcing restart of member %v in cluster %v at commit index %v", f["local-member-id"], f["cluster-id"], f["commit-index"])
	}},
	"starting initial corruption check": {pkg: "etcdserver", format: func(f map[string]any) string {
		return fmt.Sprintf("%v starting initial corruption check with timeout %v...", f["local-member-id"], f["timeout"])
	}},
	"initial corruption checking passed; no corruption": {pkg: "etcdserver", format: func(f map[string]any) string {
		return fmt.Sprintf("%v succeeded on initial corruption checking: no corruption", f["local-member-id"])
	}},
	"enabled corruption checking": {pkg: "etcdserver", format: func(f map[string]any) string {
		return fmt.Sprintf("enabled corruption checking with %v interval", f["interval"])
	}},
	"started as single-node; fast-forwarding election ticks": {pkg: "etcdserver", format: func(f map[string]any) string {
		return fmt.Sprintf("%v as single-node; fast-forwarding %v ticks (election ticks %v)", f["node"], f["forward-ticks"], f["election-ticks"])
	}},
	"initialized peer connections; fast-forwarding election ticks": {pkg: "etcdserver", format: func(f map[string]any) string {
		return fmt.Sprintf("%v initialized peer connection; fast-forwarding %v ticks (election ticks %v) with %v active peer(s)", f["local-member-id"], f["forward-ticks"], f["election-ticks"], f["active-remote-members"])
	}},
	"serving peer traffic": {pkg: "embed", format: func(f map[string]any) string {
		return fmt.Sprintf("listening for peers on %v", f["address"])
	}},
	"published local member to cluster through raft": {pkg: "etcdserver", format: func(f map[string]any) string {
		return fmt.Sprintf("published %v to cluster %v", f["local-member-attributes"], f["cluster-id"])
	}},
	"ready to serve client requests": {pkg: "embed", format: func(map[string]any) string { return "ready to serve client requests" }},
	"serving client traffic insecurely; this is strongly discouraged!": {pkg: "embed", level: levelNotice, format: func(f map[string]any) string {
		return fmt.Sprintf("serving insecure client requests on %v, this is strongly discouraged!", f["address"])
	}},
	"serving client traffic securely": {pkg: "embed", format: func(f map[string]any) string {
		return fmt.Sprintf("serving client requests on %v", f["address"])
	}},
	"set initial cluster version": {pkg: "etcdserver/membership", level: levelNotice, format: func(f map[string]any) string {
		return fmt.Sprintf("set the initial cluster version to %v", f["cluster-version"])
	}},
	"enabled capabilities for version": {pkg: "etcdserver/api", format: func(f map[string]any) string {
		return fmt.Sprintf("enabled capabilities for version %v", f["cluster-version"])
	}},
	"starting auto periodic compaction": {pkg: "compactor", level: levelNotice, format: func(f map[string]any) string {
		return fmt.Sprintf("Starting auto-compaction at revision %v (retention: %v)", f["revision"], f["compact-period"])
	}},
	"starting auto revision compaction": {pkg: "compactor", level: levelNotice, format: func(f map[string]any) string {
		return fmt.Sprintf("Starting auto-compaction at revision %v (retention: %v revisions)", f["revision"], f["revision-compaction-retention"])
	}},
	"completed auto periodic compaction": {pkg: "compactor", level: levelNotice, format: func(f map[string]any) string {
		return fmt.Sprintf("Finished auto-compaction at revision %v", f["revision"])
	}},
	"completed auto revision compaction": {pkg: "compactor", level: levelNotice, format: func(f map[string]any) string {
		return fmt.Sprintf("Finished auto-compaction at revision %v", f["revision"])
	}},
	"recognized and used environment variable": {pkg: "pkg/flags", format: func(f map[string]any) string {
		return fmt.Sprintf("recognized and used environment variable %v=%v", f["variable-name"], f["variable-value"])
	}},
	"unrecognized environment variable": {pkg: "pkg/flags", format: func(f map[string]any) string {
		return fmt.Sprintf("unrecognized environment variable %v", f["environment-variable"])
	}},
	"loaded server configuration, other configuration command line flags and environment variables will be ignored if provided": {pkg: "etcdmain", format: func(f map[string]any) string {
		return fmt.Sprintf("Loading server configuration from %q. Other configuration command line flags and environment variables will be ignored if provided.", f["path"])
	}},
	"flag is no longer supported": {pkg: "pkg/flags", level: slog.LevelWarn, format: func(f map[string]any) string {
		return fmt.Sprintf("flag %q is no longer supported.", f["flag"])
	}},
}

func bracket(v any) string {
	switch x := v.(type) {
	case []string:
		return "[" + strings.Join(x, " ") + "]"
	case []any:
		var ss []string
		for _, e := range x {
			ss = append(ss, fmt.Sprint(e))
		}
		return "[" + strings.Join(ss, " ") + "]"
	}
	return fmt.Sprintf("[%v]", v)
}

// logHandler is the one handler behind both formats.
type logHandler struct {
	mu      *sync.Mutex
	w       io.Writer
	zap     bool
	level   *slog.LevelVar
	pkgLvls map[string]slog.Level // --log-package-levels (capnslog only, as etcd)
	attrs   []slog.Attr
	now     func() time.Time
}

func newLogHandler(w io.Writer, zapFormat bool, level *slog.LevelVar, pkgLvls map[string]slog.Level) *logHandler {
	return &logHandler{mu: &sync.Mutex{}, w: w, zap: zapFormat, level: level, pkgLvls: pkgLvls, now: time.Now}
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	if len(h.pkgLvls) > 0 && !h.zap {
		return true // decided per package in Handle
	}
	return l >= h.level.Level()
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clone(h.attrs), as...)
	return &c
}

// WithGroup: the engine uses no groups; a group's attributes are flattened.
func (h *logHandler) WithGroup(string) slog.Handler { return h }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	fields := map[string]any{}
	var keys []string
	add := func(a slog.Attr) {
		if _, dup := fields[a.Key]; !dup {
			keys = append(keys, a.Key)
		}
		fields[a.Key] = a.Value.Resolve().Any()
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	ts := r.Time
	if ts.IsZero() {
		ts = h.now()
	}
	var b []byte
	if h.zap {
		b = h.zapLine(r, ts, keys, fields)
	} else {
		var ok bool
		if b, ok = h.capnsLine(r, ts, keys, fields); !ok {
			return nil
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b)
	return err
}

func zapLevel(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	case l < levelCritical:
		return "error"
	}
	return "fatal"
}

// zapLine is etcd 3.4's zap JSON: level, ts (ISO8601, ms), caller
// (dir/file.go:line), msg, then the fields in the order given.
func (h *logHandler) zapLine(r slog.Record, ts time.Time, keys []string, fields map[string]any) []byte {
	var sb strings.Builder
	sb.WriteString(`{"level":`)
	writeJSON(&sb, zapLevel(r.Level))
	sb.WriteString(`,"ts":`)
	writeJSON(&sb, ts.Format("2006-01-02T15:04:05.000Z0700"))
	if c := caller(r.PC); c != "" {
		sb.WriteString(`,"caller":`)
		writeJSON(&sb, c)
	}
	sb.WriteString(`,"msg":`)
	writeJSON(&sb, r.Message)
	for _, k := range keys {
		if k == "component" || k == "pkg" {
			continue // routing for capnslog, not an etcd field
		}
		sb.WriteString(",")
		writeJSON(&sb, k)
		sb.WriteString(":")
		writeJSON(&sb, fields[k])
	}
	sb.WriteString("}\n")
	return []byte(sb.String())
}

func writeJSON(sb *strings.Builder, v any) {
	if e, ok := v.(error); ok {
		v = e.Error()
	}
	if d, ok := v.(time.Duration); ok {
		v = d.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v))
	}
	sb.Write(b)
}

// caller is zap's short caller: the last directory and the file, with the line.
func caller(pc uintptr) string {
	if pc == 0 {
		return ""
	}
	fs := runtime.CallersFrames([]uintptr{pc})
	f, _ := fs.Next()
	if f.File == "" {
		return ""
	}
	dir := filepath.Dir(f.File)
	if strings.Contains(filepath.Base(dir), "@") { // a module root such as go.etcd.io/raft/v3@v3.7.0
		dir = strings.TrimSuffix(filepath.Dir(dir), "/")
		if strings.Contains(f.File, "go.etcd.io/raft") {
			dir = "raft"
		}
	}
	return fmt.Sprintf("%s/%s:%d", filepath.Base(dir), filepath.Base(f.File), f.Line)
}

func capnsLetter(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "T"
	case l < slog.LevelInfo:
		return "D"
	case l < levelNotice:
		return "I"
	case l < slog.LevelWarn:
		return "N"
	case l < slog.LevelError:
		return "W"
	case l < levelCritical:
		return "E"
	}
	return "C"
}

// capnsLine is etcd 3.4's capnslog text: "2006-01-02 15:04:05.000000 I |
// pkg: text", and raft's own "raft2006/01/02 15:04:05 INFO: text".
func (h *logHandler) capnsLine(r slog.Record, ts time.Time, keys []string, fields map[string]any) ([]byte, bool) {
	level := r.Level
	pkg, _ := fields["pkg"].(string)
	text := r.Message
	if el, ok := capnsLines[r.Message]; ok {
		pkg, text = el.pkg, el.format(fields)
		if el.level != 0 && el.level > level {
			level = el.level
		}
	}
	if c, _ := fields["component"].(string); c == "raft" {
		pkg = "raft"
	}
	if pkg == "" {
		pkg = "etcdserver"
	}
	min := h.level.Level()
	if l, ok := h.pkgLvls[pkg]; ok {
		min = l
	} else if l, ok := h.pkgLvls["*"]; ok {
		min = l
	}
	if level < min {
		return nil, false
	}
	if pkg == "raft" {
		names := map[string]string{"D": "DEBUG", "I": "INFO", "N": "INFO", "W": "WARN", "E": "ERROR", "C": "FATAL", "T": "DEBUG"}
		return []byte(fmt.Sprintf("raft%s %s: %s\n", ts.Format("2006/01/02 15:04:05"), names[capnsLetter(level)], text)), true
	}
	if _, known := capnsLines[r.Message]; !known {
		for _, k := range keys {
			if k == "component" || k == "pkg" {
				continue
			}
			text += fmt.Sprintf(" %s=%v", k, fields[k])
		}
	}
	return []byte(fmt.Sprintf("%s %s | %s: %s\n", ts.Format("2006-01-02 15:04:05.000000"), capnsLetter(level), pkg, text)), true
}

// parsePackageLevels reads --log-package-levels: "etcdmain=CRITICAL,etcdserver=DEBUG"
// ("*=LEVEL" for every package).
func parsePackageLevels(s string) (map[string]slog.Level, error) {
	out := map[string]slog.Level{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		pkg, lv, ok := strings.Cut(p, "=")
		l, okl := parseLevel(lv)
		if !ok || !okl || pkg == "" {
			return nil, fmt.Errorf("--log-package-levels: %q is not package=LEVEL (LEVEL one of CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG, TRACE)", p)
		}
		out[pkg] = l
	}
	return out, nil
}
