package images

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tree makes a fake host root: files ("path": content), symlinks
// ("path": "-> target") and returns its directory.
func tree(t *testing.T, spec map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range spec {
		hp := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(hp), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "-> "); ok {
			if err := os.Symlink(target, hp); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(hp, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestAddKeepsSymlinksOnTheWay(t *testing.T) {
	root := tree(t, map[string]string{
		"lib":                          "-> usr/lib",
		"usr/lib/x/libc.so.6":          "libc",
		"usr/bin/java":                 "-> /etc/alternatives/java",
		"etc/alternatives/java":        "-> /usr/lib/jvm/jdk/bin/java",
		"usr/lib/jvm/jdk/bin/java":     "java",
		"usr/lib/jvm/jdk/conf/a.props": "-> ../../../../../etc/jdk/a.props",
		"etc/jdk/a.props":              "a",
	})
	r := newRootfs(root)
	real, err := r.add("/lib/x/libc.so.6")
	if err != nil || real != "/usr/lib/x/libc.so.6" {
		t.Fatalf("add via /lib: %q, %v", real, err)
	}
	if real, err = r.add("/usr/bin/java"); err != nil || real != "/usr/lib/jvm/jdk/bin/java" {
		t.Fatalf("add java: %q, %v", real, err)
	}
	if err := r.addTree("/usr/lib/jvm/jdk/conf"); err != nil {
		t.Fatal(err)
	}
	want := map[string]entryKind{
		"/lib": kindLink, "/usr/lib/x/libc.so.6": kindFile,
		"/usr/bin/java": kindLink, "/etc/alternatives/java": kindLink, "/usr/lib/jvm/jdk/bin/java": kindFile,
		"/usr/lib/jvm/jdk/conf/a.props": kindLink, "/etc/jdk/a.props": kindFile,
	}
	if got := r.paths(); !slices.Equal(got, sortedKeys(want)) {
		t.Fatalf("paths = %v, want %v", got, sortedKeys(want))
	}
	for p, k := range want {
		if r.entries[p].kind != k {
			t.Errorf("%s: kind %d, want %d", p, r.entries[p].kind, k)
		}
	}
	r.addDir("/tmp", 0o777|fs.ModeSticky)
	r.addData("/etc/passwd", []byte("root:x:0:0::/:/x\n"), 0o644)

	out := filepath.Join(t.TempDir(), "rootfs")
	if err := r.write(out); err != nil {
		t.Fatal(err)
	}
	// Each symlink resolves inside the written tree as it did on the host.
	for _, c := range []struct{ p, content string }{
		{"lib/x/libc.so.6", "libc"}, {"etc/jdk/a.props", "a"}, {"etc/passwd", "root:x:0:0::/:/x\n"},
	} {
		b, err := os.ReadFile(filepath.Join(out, c.p))
		if err != nil || string(b) != c.content {
			t.Errorf("%s: %q, %v", c.p, b, err)
		}
	}
	if l, err := os.Readlink(filepath.Join(out, "usr/bin/java")); err != nil || l != "/etc/alternatives/java" {
		t.Errorf("usr/bin/java link = %q, %v", l, err)
	}
	fi, err := os.Stat(filepath.Join(out, "tmp"))
	if err != nil || fi.Mode()&fs.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v, %v; want drwxrwxrwt", fi.Mode(), err)
	}
	src, _ := os.Stat(filepath.Join(root, "usr/lib/x/libc.so.6"))
	dst, _ := os.Stat(filepath.Join(out, "usr/lib/x/libc.so.6"))
	if !src.ModTime().Equal(dst.ModTime()) {
		t.Errorf("mtime not kept: %v, want %v", dst.ModTime(), src.ModTime())
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestAddRejectsLoopsAndMissing(t *testing.T) {
	root := tree(t, map[string]string{"a": "-> b", "b": "-> a", "d/f": "x"})
	r := newRootfs(root)
	if _, err := r.add("/a"); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("loop: %v", err)
	}
	if _, err := r.add("/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want ErrNotExist", err)
	}
	if _, err := r.add("/d"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

func TestHashFollowsFileListAndMetadata(t *testing.T) {
	root := tree(t, map[string]string{"usr/bin/x": "one", "l": "-> usr/bin/x"})
	sum := func() [32]byte {
		r := newRootfs(root)
		if _, err := r.add("/l"); err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		r.hash(h)
		return [32]byte(h.Sum(nil))
	}
	a := sum()
	if sum() != a {
		t.Fatal("hash differs for the same files")
	}
	// A package upgrade changes the file's mtime (and usually its size).
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(root, "usr/bin/x"), later, later); err != nil {
		t.Fatal(err)
	}
	b := sum()
	if b == a {
		t.Fatal("hash unchanged after the file's mtime changed")
	}
	if err := os.Chmod(filepath.Join(root, "usr/bin/x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if sum() == b {
		t.Fatal("hash unchanged after the file's mode changed")
	}
}

// jar writes a jar whose manifest has the given Class-Path, wrapped at 72
// bytes as the jar tool wraps it.
func jar(t *testing.T, path, classPath string) {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	w, err := z.Create("META-INF/MANIFEST.MF")
	if err != nil {
		t.Fatal(err)
	}
	line := "Class-Path: " + classPath
	var m strings.Builder
	m.WriteString("Manifest-Version: 1.0\r\n")
	for first := true; len(line) > 0; first = false {
		n := min(len(line), 71)
		if !first {
			m.WriteString(" ")
		}
		m.WriteString(line[:n] + "\r\n")
		line = line[n:]
	}
	m.WriteString("Created-By: test\r\n\r\n")
	w.Write([]byte(m.String()))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestJarClosure(t *testing.T) {
	root := t.TempDir()
	j := func(p string) string { return filepath.Join(root, p) }
	jar(t, j("usr/share/java/main-1.0.jar"), "/usr/share/java/dep-with-a-rather-long-name-to-force-continuation.jar rel.jar /usr/share/java/missing.jar")
	if err := os.Symlink("main-1.0.jar", j("usr/share/java/main.jar")); err != nil {
		t.Fatal(err)
	}
	jar(t, j("usr/share/java/dep-with-a-rather-long-name-to-force-continuation.jar"), "/usr/share/java/main.jar") // a cycle
	jar(t, j("usr/share/java/rel.jar"), "")
	r := newRootfs(root)
	if err := r.addJarClosure([]string{"/usr/share/java/main.jar"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/usr/share/java/dep-with-a-rather-long-name-to-force-continuation.jar",
		"/usr/share/java/main-1.0.jar", "/usr/share/java/main.jar", "/usr/share/java/rel.jar",
	}
	if got := r.paths(); !slices.Equal(got, want) {
		t.Fatalf("closure = %v, want %v (missing.jar skipped as the JVM skips it)", got, want)
	}
	// A missing root is an error, not a skip.
	if err := newRootfs(root).addJarClosure([]string{"/usr/share/java/nope.jar"}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing root: %v", err)
	}
}

// TestELFClosureOfHostBinary reads a dynamically linked program of this
// machine (Debian's ls) and checks its loader and libc come along, with
// merged /usr's symlinks.
func TestELFClosureOfHostBinary(t *testing.T) {
	const ls = "/usr/bin/ls"
	r := newRootfs("/")
	real, err := r.add(ls)
	if err != nil {
		t.Skipf("%s: %v", ls, err)
	}
	if err := r.addELFClosure([]string{real}); err != nil {
		t.Fatal(err)
	}
	var libc, loader bool
	for _, p := range r.paths() {
		e := r.entries[p]
		if e.kind == kindFile && filepath.Base(p) == "libc.so.6" {
			libc = true
		}
		if strings.HasPrefix(filepath.Base(p), "ld-linux") && e.kind == kindFile {
			loader = true
		}
	}
	if !libc || !loader {
		t.Fatalf("closure of %s lacks libc (%v) or the loader (%v): %v", ls, libc, loader, r.paths())
	}
	if e := r.entries["/lib64"]; e == nil || e.kind != kindLink {
		if fi, err := os.Lstat("/lib64"); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			t.Fatalf("/lib64 is a symlink on this machine but not in the image: %v", r.paths())
		}
	}

	// The same program in a root without its libraries: the error names
	// what is missing.
	fake := t.TempDir()
	b, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(fake, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fake, "usr/bin/ls"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	err = newRootfs(fake).addELFClosure([]string{"/usr/bin/ls"})
	if err == nil || !strings.Contains(err.Error(), "loader") {
		t.Fatalf("closure without a loader: %v", err)
	}
	for _, p := range r.paths() {
		if e := r.entries[p]; e.kind == kindFile && strings.HasPrefix(filepath.Base(p), "ld-linux") {
			lb, _ := os.ReadFile(p)
			for _, d := range []string{"lib64", "usr/lib64"} {
				os.MkdirAll(filepath.Join(fake, d), 0o755)
				os.WriteFile(filepath.Join(fake, d, filepath.Base(p)), lb, 0o755)
			}
		}
	}
	err = newRootfs(fake).addELFClosure([]string{"/usr/bin/ls"})
	if err == nil || !strings.Contains(err.Error(), ".so") || !strings.Contains(err.Error(), "needs") {
		t.Fatalf("closure without libraries: %v, want an error naming the library", err)
	}
}

func TestNotInstalledSaysHowToInstall(t *testing.T) {
	empty := t.TempDir()
	for name, pkg := range map[string]string{"etcd": "etcd-server", "zookeeper": "openjdk-17-jre-headless"} {
		_, err := Tag(name, Options{DockerDir: "../docker", Root: empty})
		if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "scripts/setup.sh") || !strings.Contains(err.Error(), "apt-get install "+pkg) {
			t.Errorf("%s on an empty root: %v", name, err)
		}
	}
	if _, err := Tag("etcd3", Options{DockerDir: "../docker"}); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown name: %v", err)
	}
}

// TestZooKeeperDockerfileClassPath keeps the class path the image's
// entrypoint runs with and the jars the image copies the same.
func TestZooKeeperDockerfileClassPath(t *testing.T) {
	b, err := os.ReadFile("../docker/zookeeper.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	want := `"-cp", "` + strings.Join(ZooKeeperClassPath, ":") + `"`
	if !strings.Contains(string(b), want) {
		t.Fatalf("docker/zookeeper.Dockerfile does not run with %s", want)
	}
}
