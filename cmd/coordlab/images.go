package main

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

var _ = addCommand(newImagesCmd)

// engines are the programs that get an image, each from
// docker/<name>.Dockerfile.
var engines = []string{"raftkv", "zab"}

func newImagesCmd() *cobra.Command {
	var binDir, dockerDir string
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build the FROM-scratch images of raftkv and zab (content-hash tags, nothing pulled)",
		Long: `images builds one image per engine from its static binary and
docker/<engine>.Dockerfile, tags it coordlab/<engine>:<hash of binary and
Dockerfile> and coordlab/<engine>:latest, and prints engine=tag lines. An
image whose tag exists is not built again. Nothing is pulled: the images are
FROM scratch and built with the classic builder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tags, err := buildImages(cmd.Context(), cmd.ErrOrStderr(), binDir, dockerDir)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			for _, e := range engines {
				fmt.Fprintf(cmd.OutOrStdout(), "%s=%s\n", e, tags[e])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&binDir, "bin-dir", "bin", "directory with the static raftkv and zab binaries (`make build`)")
	cmd.Flags().StringVar(&dockerDir, "docker-dir", "docker", "directory with the Dockerfiles")
	return cmd
}

// buildImages builds the engines' images that are missing, with a progress
// bar on a terminal, and returns engine -> content-hash tag.
func buildImages(ctx context.Context, progress io.Writer, binDir, dockerDir string) (map[string]string, error) {
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		return nil, errors.New("images: the Docker engine is not reachable (`docker info` failed); start dockerd, or run the local runtime instead")
	}
	var bar *progressbar.ProgressBar
	if isTerminal(progress) {
		bar = progressbar.NewOptions(len(engines), progressbar.OptionSetWriter(progress), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(20), progressbar.OptionClearOnFinish())
	}
	tags := map[string]string{}
	for _, e := range engines {
		if bar != nil {
			bar.Describe("image " + e)
		}
		tag, built, err := buildImage(ctx, e, filepath.Join(binDir, e), filepath.Join(dockerDir, e+".Dockerfile"))
		if err != nil {
			return nil, err
		}
		tags[e] = tag
		if bar != nil {
			bar.Add(1)
		} else {
			what := "present"
			if built {
				what = "built"
			}
			fmt.Fprintf(progress, "image %s: %s (%s)\n", e, tag, what)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	return tags, nil
}

// buildImage builds one engine's image unless its content-hash tag exists,
// and says whether it built it.
func buildImage(ctx context.Context, engine, bin, dockerfile string) (tag string, built bool, err error) {
	// FROM scratch has no dynamic loader: a binary that needs one exits with
	// "exec: no such file or directory" inside the container.
	f, err := elf.Open(bin)
	if err != nil {
		return "", false, fmt.Errorf("images: %s: %w; run 'make build' first", bin, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			return "", false, fmt.Errorf("images: %s is dynamically linked; build it static (CGO_ENABLED=0, as 'make build' does)", bin)
		}
	}
	f.Close()
	ctxDir, err := os.MkdirTemp("", "coordlab-image-")
	if err != nil {
		return "", false, fmt.Errorf("images: %w", err)
	}
	defer os.RemoveAll(ctxDir)
	h := sha256.New()
	for _, c := range []struct{ src, dst string }{{bin, engine}, {dockerfile, "Dockerfile"}} {
		b, err := os.ReadFile(c.src)
		if err != nil {
			return "", false, fmt.Errorf("images: %w (run from the repository root, or pass --docker-dir)", err)
		}
		h.Write(b)
		if err := os.WriteFile(filepath.Join(ctxDir, c.dst), b, 0o755); err != nil {
			return "", false, fmt.Errorf("images: %w", err)
		}
	}
	tag = "coordlab/" + engine + ":" + hex.EncodeToString(h.Sum(nil))[:12]
	if exec.CommandContext(ctx, "docker", "image", "inspect", tag).Run() != nil {
		built = true
		build := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, ctxDir)
		build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := build.CombinedOutput(); err != nil {
			return "", false, fmt.Errorf("images: docker build %s: %w: %s", tag, err, strings.TrimSpace(string(out)))
		}
	}
	if out, err := exec.CommandContext(ctx, "docker", "tag", tag, "coordlab/"+engine+":latest").CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("images: docker tag %s: %w: %s", tag, err, strings.TrimSpace(string(out)))
	}
	return tag, built, nil
}
