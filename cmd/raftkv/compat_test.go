package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDoc = flag.Bool("update", false, "rewrite the raftkv section of docs/COMPATIBILITY.md from etcdFlags")

const compatHeading = "## raftkv: etcd 3.4 flags"

// compatSection renders docs/COMPATIBILITY.md's raftkv section from etcdFlags.
func compatSection() string {
	var b strings.Builder
	b.WriteString(compatHeading + "\n\n")
	b.WriteString("Every flag etcd 3.4 takes, and what `raftkv` does with it. **honoured**: does what etcd does.\n")
	b.WriteString("**accepted, same as etcd**: taken, and what etcd does with it is what raftkv does.\n")
	b.WriteString("**refused**: raftkv stops at start, naming the flag and the reason, unless the flag is left at\n")
	b.WriteString("the value shown (etcd's default, which asks for nothing raftkv lacks). The same rules apply to\n")
	b.WriteString("`ETCD_*` environment variables and to `--config-file` keys. The table is generated from\n")
	b.WriteString("`cmd/raftkv/etcdflags.go` (`go test ./cmd/raftkv -run TestCompatibilityDoc -update`).\n\n")
	b.WriteString("| flag | raftkv | notes | shown by |\n|---|---|---|---|\n")
	for _, f := range etcdFlags {
		status := f.support.String()
		if f.support == refused {
			allowed := f.allowed
			if allowed == "" {
				allowed = "empty"
			}
			status = fmt.Sprintf("refused unless `%s`", allowed)
		}
		note := strings.ReplaceAll(f.note, "|", "\\|")
		fmt.Fprintf(&b, "| `--%s` | %s | %s | `%s` |\n", f.name, status, note, f.test)
	}
	b.WriteString("\nFlags of etcd 0.4 that etcd 3.4 still accepts and ignores with a warning are accepted and\nignored the same way: ")
	for i, n := range ignoredEtcdFlags {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "`--%s`", n)
	}
	b.WriteString(".\n")
	return b.String()
}

// TestCompatibilityDoc: docs/COMPATIBILITY.md's raftkv section is exactly
// what etcdFlags says.
func TestCompatibilityDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "COMPATIBILITY.md")
	b, err := os.ReadFile(path)
	if err != nil && !(*updateDoc && os.IsNotExist(err)) {
		t.Fatal(err)
	}
	doc := string(b)
	want := compatSection()
	start := strings.Index(doc, compatHeading+"\n")
	var got, before, after string
	if start >= 0 {
		rest := doc[start:]
		end := len(rest)
		if i := strings.Index(rest[len(compatHeading):], "\n## "); i >= 0 {
			end = len(compatHeading) + i + 1
		}
		before, got, after = doc[:start], rest[:end], rest[end:]
	}
	if got == want {
		return
	}
	if !*updateDoc {
		t.Fatalf("%s: the section %q differs from etcdFlags; run go test ./cmd/raftkv -run TestCompatibilityDoc -update", path, compatHeading)
	}
	if start < 0 {
		if doc == "" {
			doc = "# Compatibility\n\nHow far each engine is a drop-in for the server it stands in for: which of the real\nserver's settings it honours, and which it refuses at start (always naming the setting and\nthe reason) rather than accepting and ignoring.\n"
		}
		before, after = strings.TrimRight(doc, "\n")+"\n\n", ""
	}
	if after != "" && !strings.HasSuffix(want, "\n\n") {
		want += "\n"
	}
	if err := os.WriteFile(path, []byte(before+want+after), 0o644); err != nil {
		t.Fatal(err)
	}
}
