package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"coordlab/images"
)

var _ = addCommand(newImagesCmd)

func newImagesCmd() *cobra.Command {
	var binDir, dockerDir string
	cmd := &cobra.Command{
		Use:   "images [raftkv|zab|etcd|zookeeper ...]",
		Short: "Build the FROM-scratch images of raftkv, zab, etcd and ZooKeeper (content-hash tags, nothing pulled)",
		Long: `images builds the lab's Docker images (all four unless names are given),
tags each coordlab/<name>:<hash> and coordlab/<name>:latest, and prints
name=tag lines. An image whose tag exists is not built again. Nothing is
pulled: every image is FROM scratch, built with the classic builder from
docker/<name>.Dockerfile, and holds no shell.

raftkv and zab are their static binaries from --bin-dir; the tag hashes the
binary and the Dockerfile.

etcd and zookeeper are the real systems, copied from Debian's packages as
installed on this machine (scripts/setup.sh installs them; or apt-get
install etcd-server zookeeper): for etcd 3.4, /usr/bin/etcd with glibc's
loader and libc; for ZooKeeper 3.8, /usr/bin/java with the parts of
Debian's OpenJDK 17 a headless server uses, the ZooKeeper jars and the jars
their manifests name, and every shared library these load. The tag hashes
the list of copied files (path, mode, size, mtime) and the Dockerfile, so
upgrading a package builds a new image. The zookeeper image runs the JVM
with QuorumPeerMain; its argument is the zoo.cfg path (default
/conf/zoo.cfg).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			names := args
			if len(names) == 0 {
				names = images.All()
			}
			for _, n := range names {
				if !slices.Contains(images.All(), n) {
					return &exitError{code: exitFailed, err: fmt.Errorf("images: unknown image %q: want one of %s", n, strings.Join(images.All(), ", "))}
				}
			}
			o := images.Options{BinDir: binDir, DockerDir: dockerDir}
			tags, err := buildImageList(cmd.Context(), cmd.ErrOrStderr(), names, o)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			for _, n := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "%s=%s\n", n, tags[n])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&binDir, "bin-dir", "bin", "directory with the static raftkv and zab binaries (`make build`)")
	cmd.Flags().StringVar(&dockerDir, "docker-dir", "docker", "directory with the Dockerfiles")
	return cmd
}

func buildImageList(ctx context.Context, progress io.Writer, names []string, o images.Options) (map[string]string, error) {
	if err := images.CheckDocker(ctx); err != nil {
		return nil, err
	}
	var bar *progressbar.ProgressBar
	if isTerminal(progress) {
		bar = progressbar.NewOptions(len(names), progressbar.OptionSetWriter(progress), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(20), progressbar.OptionClearOnFinish())
	}
	tags := map[string]string{}
	for _, n := range names {
		if bar != nil {
			bar.Describe("image " + n)
		}
		tag, built, err := images.Build(ctx, n, o)
		if err != nil {
			return nil, err
		}
		tags[n] = tag
		if bar != nil {
			bar.Add(1)
		} else {
			what := "present"
			if built {
				what = "built"
			}
			fmt.Fprintf(progress, "image %s: %s (%s)\n", n, tag, what)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	return tags, nil
}
