// Package images builds the lab's Docker images with no registry: every
// image is FROM scratch, built by Docker's classic builder, tagged
// coordlab/<name>:<content hash> and coordlab/<name>:latest.
//
// The engines (raftkv, zab) are their static binaries. The reference
// systems (etcd, zookeeper) are Debian's packages as installed on this
// machine, copied with everything they load at run time: for etcd 3.4,
// /usr/bin/etcd with glibc's loader and libc; for ZooKeeper 3.8,
// /usr/bin/java and the parts of Debian's OpenJDK 17 a headless server
// uses, the ZooKeeper jars and the jars their manifests name, and the
// shared libraries of it all (found by reading each ELF object's
// PT_INTERP, DT_NEEDED and RPATH as the loader does). Paths reached
// through symlinks on the host (merged /usr's /lib and /lib64, Debian's
// /etc/alternatives, the JDK's conf links into /etc) stay symlinks in the
// image, so every program finds its files where it was built to look.
// The images hold no shell: the entrypoint is the server itself.
//
// A reference image's tag hashes the list of the files it copies (path,
// mode, size and mtime, which dpkg takes from the package) and its
// Dockerfile, so upgrading a Debian package makes a new tag without
// reading the files; an engine's tag hashes its binary and Dockerfile.
package images
