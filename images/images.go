package images

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Engines are our servers, each built from its static binary in the bin
// directory.
var Engines = []string{"raftkv", "zab"}

// References are the real systems, each built from Debian's installed
// package on this machine.
var References = []string{"etcd", "zookeeper"}

// All is every image, engines first.
func All() []string { return slices.Concat(Engines, References) }

// ErrNotInstalled is returned when a reference system is not installed on
// this machine.
var ErrNotInstalled = errors.New("not installed")

// ErrUnknown is returned for a name that is neither an engine nor a
// reference system.
var ErrUnknown = errors.New("unknown image")

// Options say where an image's inputs are.
type Options struct {
	BinDir    string // the engines' static binaries (`make build` writes bin/)
	DockerDir string // the Dockerfiles, docker/<name>.Dockerfile
	// Root is the host root the reference systems' files are read from;
	// empty means "/". Tests point it at a fake tree.
	Root string
}

// Latest is the moving tag `coordlab images` also sets: the image of the
// last build, for docker-compose and for a runtime given no tag.
func Latest(name string) string { return "coordlab/" + name + ":latest" }

// plan is what one image is built from.
type plan struct {
	name       string
	dockerfile []byte
	bin        []byte  // engines: the static binary, /<name> in the context
	files      *rootfs // references: rootfs/ in the context
}

// Tag is the content-hash tag of name's image as the inputs are now,
// "coordlab/<name>:<12 hex digits>", without building anything: the tag a
// runtime should run, and which Build makes exist. For an engine the hash
// covers the binary and the Dockerfile; for a reference system, the list
// of the host files the image copies (path, mode, size and mtime of each,
// so a new Debian package version makes a new tag) and the Dockerfile.
func Tag(name string, o Options) (string, error) {
	p, err := makePlan(name, o)
	if err != nil {
		return "", err
	}
	return p.tag(), nil
}

func (p *plan) tag() string {
	h := sha256.New()
	if p.files != nil {
		fmt.Fprintf(h, "coordlab rootfs image\n")
		p.files.hash(h)
	} else {
		h.Write(p.bin)
	}
	h.Write(p.dockerfile)
	return "coordlab/" + p.name + ":" + hex.EncodeToString(h.Sum(nil))[:12]
}

func makePlan(name string, o Options) (*plan, error) {
	dir := o.DockerDir
	if dir == "" {
		dir = "docker"
	}
	isEngine, isRef := slices.Contains(Engines, name), slices.Contains(References, name)
	if !isEngine && !isRef {
		return nil, fmt.Errorf("images: %w %q: want one of %s", ErrUnknown, name, strings.Join(All(), ", "))
	}
	df, err := os.ReadFile(filepath.Join(dir, name+".Dockerfile"))
	if err != nil {
		return nil, fmt.Errorf("images: %w (run from the repository root, or pass --docker-dir)", err)
	}
	p := &plan{name: name, dockerfile: df}
	if isEngine {
		bin := filepath.Join(o.BinDir, name)
		if err := checkStatic(bin); err != nil {
			return nil, err
		}
		if p.bin, err = os.ReadFile(bin); err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		return p, nil
	}
	root := o.Root
	if root == "" {
		root = "/"
	}
	p.files = newRootfs(root)
	switch name {
	case "etcd":
		err = etcdFiles(p.files)
	case "zookeeper":
		err = zookeeperFiles(p.files)
	}
	if err != nil {
		return nil, fmt.Errorf("images: %s: %w", name, err)
	}
	return p, nil
}

// checkStatic refuses a binary that needs a dynamic loader: FROM scratch
// has none, and the container would exit with "exec: no such file or
// directory".
func checkStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("images: %s: %w; run 'make build' first", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("images: %s is dynamically linked; build it static (CGO_ENABLED=0, as 'make build' does)", bin)
		}
	}
	return nil
}

// notInstalled turns a missing file of a Debian package into the error
// that says how to install it.
func notInstalled(err error, pkg string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %v: run scripts/setup.sh (as root), or apt-get install %s", ErrNotInstalled, err, pkg)
	}
	return err
}

// etcdFiles is Debian's etcd server (package etcd-server, etcd 3.4): the
// binary, dynamically linked against glibc, with its loader and libraries.
// etcdctl is not needed in the image: clients run on the host.
func etcdFiles(r *rootfs) error {
	bin, err := r.add("/usr/bin/etcd")
	if err != nil {
		return notInstalled(err, "etcd-server")
	}
	if err := r.addELFClosure([]string{bin}); err != nil {
		return err
	}
	addNSSwitch(r)
	return nil
}

// addNSSwitch writes the lookup order of a Debian system. Without
// /etc/nsswitch.conf glibc's hosts order is "dns [!UNAVAIL=return] files":
// when a DNS server answers "no such name" for a name that only
// /etc/hosts has, the lookup fails instead of reading /etc/hosts.
func addNSSwitch(r *rootfs) {
	r.addData("/etc/nsswitch.conf", []byte("passwd: files\ngroup: files\nhosts: files dns\n"), 0o644)
}

// ZooKeeperClassPath is the JVM class path of the zookeeper image: the
// conf directory (for Debian's log4j.properties) and zookeeper.jar, as
// Debian's zkEnv.sh builds it, plus the slf4j binding to log4j 1.2 that
// Debian's package leaves out (without it ZooKeeper logs nothing).
// zookeeper.jar's manifest names the other jars it needs.
var ZooKeeperClassPath = []string{
	"/etc/zookeeper/conf",
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
}

// jvmRequired are the JDK files (under its home) a headless server needs:
// the launcher's configuration, the class library (lib/modules), the VM
// and the native libraries of java.base, java.net/nio and zip.
var jvmRequired = []string{
	"lib/jvm.cfg", "lib/modules", "lib/tzdb.dat", "lib/server/libjvm.so",
	"lib/libjli.so", "lib/libjava.so", "lib/libjimage.so", "lib/libzip.so",
	"lib/libnet.so", "lib/libnio.so", "lib/libverify.so",
}

// jvmOptional are JDK files taken when present: the class-data sharing
// archive (faster start), and the native parts of java.management (JMX,
// which ZooKeeper registers its beans with), jdk.net, java.prefs, JAAS
// and the vector math library.
var jvmOptional = []string{
	"lib/server/classes.jsa", "lib/libmanagement.so", "lib/libmanagement_ext.so",
	"lib/libextnet.so", "lib/libprefs.so", "lib/libjaas.so", "lib/libjsvml.so",
}

// jvmTrees are JDK directories taken whole: security configuration that
// java.base reads at start (java.security, policies, cacerts) and the
// logging and networking properties.
var jvmTrees = []string{"conf", "lib/security"}

// zookeeperFiles is Debian's ZooKeeper 3.8 (packages zookeeper and
// libzookeeper-java) on Debian's OpenJDK: /usr/bin/java and the JDK files
// a headless server uses (not the compiler, AWT, sound, debugger or jmods),
// the jars of ZooKeeperClassPath and their manifests' closure, Debian's
// log4j.properties, the libraries of it all, a minimal /etc/passwd (the
// JVM looks up its user), /etc/nsswitch.conf and /tmp (the JVM's
// temporary directory).
func zookeeperFiles(r *rootfs) error {
	java, err := r.add("/usr/bin/java")
	if err != nil {
		return notInstalled(err, "openjdk-17-jre-headless")
	}
	home := filepath.Dir(filepath.Dir(java))
	elfs := []string{java}
	for _, f := range slices.Concat(jvmRequired, jvmOptional) {
		real, err := r.add(filepath.Join(home, f))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && slices.Contains(jvmOptional, f) {
				continue
			}
			return fmt.Errorf("the JDK at %s: %w", home, notInstalled(err, "openjdk-17-jre-headless"))
		}
		if strings.HasSuffix(f, ".so") {
			elfs = append(elfs, real)
		}
	}
	for _, d := range jvmTrees {
		if err := r.addTree(filepath.Join(home, d)); err != nil {
			return fmt.Errorf("the JDK at %s: %w", home, notInstalled(err, "openjdk-17-jre-headless"))
		}
	}
	if err := r.addELFClosure(elfs); err != nil {
		return err
	}
	var jars []string
	for _, p := range ZooKeeperClassPath {
		if strings.HasSuffix(p, ".jar") {
			jars = append(jars, p)
		}
	}
	if err := r.addJarClosure(jars); err != nil {
		return notInstalled(err, "zookeeper")
	}
	if _, err := r.add("/etc/zookeeper/conf/log4j.properties"); err != nil {
		return notInstalled(err, "zookeeper")
	}
	r.addData("/etc/passwd", []byte("root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"), 0o644)
	r.addData("/etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	r.addDir("/tmp", 0o777|fs.ModeSticky)
	addNSSwitch(r)
	return nil
}

// Build builds name's image unless its content-hash tag exists, tags it
// Latest(name) too, and returns the tag and whether it built it. Nothing
// is pulled: the images are FROM scratch, built by the classic builder
// (BuildKit would fetch its frontend from a registry).
func Build(ctx context.Context, name string, o Options) (tag string, built bool, err error) {
	p, err := makePlan(name, o)
	if err != nil {
		return "", false, err
	}
	tag = p.tag()
	if exec.CommandContext(ctx, "docker", "image", "inspect", tag).Run() != nil {
		built = true
		if err := p.build(ctx, tag); err != nil {
			return "", false, err
		}
	}
	if out, err := exec.CommandContext(ctx, "docker", "tag", tag, Latest(name)).CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("images: docker tag %s: %w: %s", tag, err, strings.TrimSpace(string(out)))
	}
	return tag, built, nil
}

func (p *plan) build(ctx context.Context, tag string) error {
	dir, err := os.MkdirTemp("", "coordlab-image-")
	if err != nil {
		return fmt.Errorf("images: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), p.dockerfile, 0o644); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	if p.files != nil {
		if err := p.files.write(filepath.Join(dir, "rootfs")); err != nil {
			return fmt.Errorf("images: %s: build context: %w", p.name, err)
		}
	} else if err := os.WriteFile(filepath.Join(dir, p.name), p.bin, 0o755); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	build := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("images: docker build %s: %w: %s", tag, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// CheckDocker says whether the Docker engine answers.
func CheckDocker(ctx context.Context) error {
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		return errors.New("images: the Docker engine is not reachable (`docker info` failed); start dockerd, or run the local runtime instead")
	}
	return nil
}
