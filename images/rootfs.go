package images

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

type entryKind int

const (
	kindFile entryKind = iota // a host file, copied
	kindLink                  // a symlink, recreated with the same target
	kindDir                   // an empty directory (e.g. /tmp)
	kindData                  // a file generated here (e.g. /etc/passwd)
)

// entry is one path of an image's root file system.
type entry struct {
	kind   entryKind
	src    string      // kindFile: the host file
	target string      // kindLink: the link's target, as on the host
	data   []byte      // kindData: the content
	mode   fs.FileMode // permission bits (with sticky for /tmp)
	size   int64       // kindFile
	mtime  int64       // kindFile, in ns: dpkg keeps the package's mtimes
}

// rootfs is the set of paths an image holds, as the host shows them: a
// path reached through a symlink (merged /usr's /lib, Debian's
// alternatives in /etc/alternatives, the JDK's conf links into /etc)
// keeps that symlink in the image, so a program finds its files at the
// paths it was built to use.
type rootfs struct {
	root    string // the host's root, "/" except in tests
	entries map[string]*entry
}

func newRootfs(root string) *rootfs {
	return &rootfs{root: root, entries: map[string]*entry{}}
}

// host is the host path of image path p.
func (r *rootfs) host(p string) string { return filepath.Join(r.root, p) }

// add puts host path p (absolute, as seen from r.root) into the image,
// with every symlink met on the way, and returns the path of the file it
// ends at. p must end at a regular file.
func (r *rootfs) add(p string) (string, error) {
	return r.addDepth(p, 0)
}

func (r *rootfs) addDepth(p string, depth int) (string, error) {
	if depth > 40 {
		return "", fmt.Errorf("%s: too many levels of symbolic links", p)
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%s: not an absolute path", p)
	}
	p = filepath.Clean(p)
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i, part := range parts {
		next := filepath.Join(cur, part)
		fi, err := os.Lstat(r.host(next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			t, err := os.Readlink(r.host(next))
			if err != nil {
				return "", err
			}
			r.entries[next] = &entry{kind: kindLink, target: t}
			dest := t
			if !filepath.IsAbs(t) {
				dest = filepath.Join(cur, t)
			}
			return r.addDepth(filepath.Join(append([]string{dest}, parts[i+1:]...)...), depth+1)
		}
		if i < len(parts)-1 {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s: not a directory", next)
			}
			cur = next
			continue
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s: not a regular file", next)
		}
		r.entries[next] = &entry{kind: kindFile, src: r.host(next), mode: fi.Mode().Perm(), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
		return next, nil
	}
	return "", fmt.Errorf("%s: the root itself is not a file", p)
}

// addTree adds every file and symlink under host directory dir (itself
// reached without symlinks in its last component).
func (r *rootfs) addTree(dir string) error {
	return filepath.WalkDir(r.host(dir), func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(r.root, hp)
		if err != nil {
			return err
		}
		_, err = r.add("/" + rel)
		return err
	})
}

// addData puts a generated file at p.
func (r *rootfs) addData(p string, data []byte, mode fs.FileMode) {
	r.entries[filepath.Clean(p)] = &entry{kind: kindData, data: data, mode: mode}
}

// addDir puts an empty directory at p.
func (r *rootfs) addDir(p string, mode fs.FileMode) {
	r.entries[filepath.Clean(p)] = &entry{kind: kindDir, mode: mode}
}

func (r *rootfs) paths() []string {
	ps := make([]string, 0, len(r.entries))
	for p := range r.entries {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// hash digests the list of paths with what identifies each: a host file
// by mode, size and mtime (a new Debian package version changes them
// without reading the 130 MB of a JDK), a symlink by its target, generated
// data by its content.
func (r *rootfs) hash(h io.Writer) {
	for _, p := range r.paths() {
		e := r.entries[p]
		fmt.Fprintf(h, "%d %q %o", e.kind, p, uint32(e.mode))
		switch e.kind {
		case kindFile:
			fmt.Fprintf(h, " %d %d", e.size, e.mtime)
		case kindLink:
			fmt.Fprintf(h, " %q", e.target)
		case kindData:
			s := sha256.Sum256(e.data)
			h.Write(s[:])
		}
		io.WriteString(h, "\n")
	}
}

// write materializes the tree under dir. Files and directories come
// first, symlinks last, so that no write goes through a symlink (whose
// absolute target would be a host path).
func (r *rootfs) write(dir string) error {
	ps := r.paths()
	for _, p := range ps {
		e := r.entries[p]
		dst := filepath.Join(dir, p)
		if e.kind == kindLink {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		switch e.kind {
		case kindDir:
			if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case kindData:
			if err := os.WriteFile(dst, e.data, 0o644); err != nil {
				return err
			}
		case kindFile:
			if err := copyFile(e.src, dst); err != nil {
				return err
			}
			// The JVM's class-data archive checks the modules file's
			// mtime, and docker keeps the context's mtimes.
			t := time.Unix(0, e.mtime)
			if err := os.Chtimes(dst, t, t); err != nil {
				return err
			}
		}
		// Chmod after create: the umask must not narrow /tmp's 1777.
		if err := os.Chmod(dst, e.mode); err != nil {
			return err
		}
	}
	for _, p := range ps {
		e := r.entries[p]
		if e.kind != kindLink {
			continue
		}
		dst := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(e.target, dst); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// multiarchDirs are the directories the dynamic loader searches by
// default for a machine (Debian's multiarch layout first).
func multiarchDirs(m elf.Machine) []string {
	var dirs []string
	switch m {
	case elf.EM_X86_64:
		dirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"}
	case elf.EM_AARCH64:
		dirs = []string{"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"}
	}
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
}

// addELFClosure adds the dynamic loader and the shared libraries the ELF
// objects objs (image paths already added) need, transitively, reading
// DT_NEEDED, DT_RPATH/DT_RUNPATH ($ORIGIN) and PT_INTERP as the loader
// does. A needed library found nowhere on disk must be one that another
// object already included provides (libjava.so needs libjvm.so, which
// the JVM loads from lib/server before it); else it is an error that
// names it.
func (r *rootfs) addELFClosure(objs []string) error {
	queue := slices.Clone(objs)
	done := map[string]bool{}
	provided := map[string]bool{} // basenames and sonames of included objects
	type want struct{ name, by string }
	var unresolved []want
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if done[p] {
			continue
		}
		done[p] = true
		provided[filepath.Base(p)] = true
		f, err := elf.Open(r.host(p))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		interp, needed, search, soname, err := dynInfo(f, filepath.Dir(p))
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if soname != "" {
			provided[soname] = true
		}
		if interp != "" {
			real, err := r.add(interp)
			if err != nil {
				return fmt.Errorf("%s: its loader %s: %w", p, interp, err)
			}
			queue = append(queue, real)
		}
		for _, n := range needed {
			var cands []string
			if strings.Contains(n, "/") {
				cands = []string{n}
			} else {
				for _, d := range search {
					cands = append(cands, filepath.Join(d, n))
				}
			}
			found := false
			for _, c := range cands {
				if !sameELFClass(r.host(c), f) {
					continue
				}
				real, err := r.add(c)
				if err != nil {
					return fmt.Errorf("%s: %s: %w", p, c, err)
				}
				queue = append(queue, real)
				found = true
				break
			}
			if !found {
				unresolved = append(unresolved, want{n, p})
			}
		}
	}
	for _, u := range unresolved {
		if !provided[u.name] {
			return fmt.Errorf("%s needs %s, found neither on this machine's library path nor among the image's files", u.by, u.name)
		}
	}
	return nil
}

// dynInfo reads what the loader reads: the interpreter, the needed
// libraries, and where to look for them (RPATH/RUNPATH with $ORIGIN
// expanded to dir, then the default directories).
func dynInfo(f *elf.File, dir string) (interp string, needed, search []string, soname string, err error) {
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			b, err := io.ReadAll(prog.Open())
			if err != nil {
				return "", nil, nil, "", err
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if f.Section(".dynamic") == nil && f.SectionByType(elf.SHT_DYNAMIC) == nil {
		return interp, nil, nil, "", nil // static
	}
	if needed, err = f.DynString(elf.DT_NEEDED); err != nil {
		return "", nil, nil, "", err
	}
	if s, _ := f.DynString(elf.DT_SONAME); len(s) > 0 {
		soname = s[0]
	}
	var paths []string
	for _, tag := range []elf.DynTag{elf.DT_RPATH, elf.DT_RUNPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", dir), "$ORIGIN", dir)
				if filepath.IsAbs(d) {
					paths = append(paths, filepath.Clean(d))
				}
			}
		}
	}
	return interp, needed, append(paths, multiarchDirs(f.Machine)...), soname, nil
}

// sameELFClass says whether host file p exists and is an ELF object the
// loader would take for f (same class and machine: /usr/lib may hold
// 32-bit libraries of the same name).
func sameELFClass(p string, f *elf.File) bool {
	g, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer g.Close()
	return g.Class == f.Class && g.Machine == f.Machine
}

// addJarClosure adds the jars roots and, transitively, the jars their
// manifests' Class-Path names, as the JVM's class loader reads them
// (entries relative to the naming jar's directory). An entry that does
// not exist is skipped, as the JVM skips it.
func (r *rootfs) addJarClosure(roots []string) error {
	queue := slices.Clone(roots)
	done := map[string]bool{}
	for len(queue) > 0 {
		p := filepath.Clean(queue[0])
		queue = queue[1:]
		if done[p] {
			continue
		}
		done[p] = true
		real, err := r.add(p)
		if err != nil {
			if slices.Contains(roots, p) {
				return err
			}
			continue
		}
		cp, err := manifestClassPath(r.host(real))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, c := range cp {
			c = strings.TrimPrefix(c, "file:")
			if !filepath.IsAbs(c) {
				c = filepath.Join(filepath.Dir(p), c)
			}
			queue = append(queue, c)
		}
	}
	return nil
}

// manifestClassPath returns the Class-Path entries of a jar's manifest.
func manifestClassPath(jar string) ([]string, error) {
	z, err := zip.OpenReader(jar)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	f, err := z.Open("META-INF/MANIFEST.MF")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// A manifest line continues on the next when that starts with a space.
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(l, " ") && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "Class-Path:"); ok {
			return strings.Fields(v), nil
		}
	}
	return nil, nil
}
