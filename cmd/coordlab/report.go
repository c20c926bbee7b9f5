package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"coordlab/reports"
)

var _ = addCommand(newReportCmd)

func newReportCmd() *cobra.Command {
	var out, baseline string
	cmd := &cobra.Command{
		Use:   "report DIR...",
		Short: "Render run pages, an index and a comparison page from stored runs",
		Long: `report renders report.html in every run directory given (or found one level
under a results folder), index.html in each results folder, and, when more
than one run is given, comparison.html in --out (default: the common parent).
It reads only the files a run leaves behind; nothing is re-run.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var dirs, roots []string
			for _, a := range args {
				found, err := reports.FindRuns(a)
				if err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				if len(found) > 1 || found[0] != a {
					roots = append(roots, a)
				}
				dirs = append(dirs, found...)
			}
			var runs []*reports.Run
			var errs []error
			for _, d := range dirs {
				r, err := reports.Load(d)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if err := reports.RenderRun(r); err != nil {
					errs = append(errs, err)
					continue
				}
				runs = append(runs, r)
				fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(d, "report.html"))
			}
			if len(runs) > 1 {
				if out == "" {
					out = commonParent(dirs)
				}
				if err := reports.RenderComparison(runs, out, baseline); err != nil {
					errs = append(errs, err)
				} else {
					fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(out, "comparison.html"))
				}
				// The index beside the comparison lists the runs --out
				// holds; an --out of its own, with no runs, gets none.
				if _, err := reports.FindRuns(out); err == nil {
					roots = append(roots, out)
				} else if !errors.Is(err, reports.ErrNoRuns) {
					errs = append(errs, err)
				}
			}
			for _, root := range uniq(roots) {
				if _, err := os.Stat(root); err != nil {
					continue
				}
				if err := reports.RenderIndex(root); err != nil {
					errs = append(errs, err)
				} else {
					fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(root, "index.html"))
				}
			}
			if err := errors.Join(errs...); err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory for comparison.html (default: the runs' common parent)")
	cmd.Flags().StringVar(&baseline, "baseline", "etcd", "target the comparison's ratios are against (a group without it uses its first target)")
	return cmd
}

// commonParent is the longest directory that contains every dir.
func commonParent(dirs []string) string {
	if len(dirs) == 0 {
		return "."
	}
	p := filepath.Dir(filepath.Clean(dirs[0]))
	for _, d := range dirs[1:] {
		for {
			rel, err := filepath.Rel(p, d)
			if err == nil && !filepath.IsAbs(rel) && rel != ".." && (len(rel) < 3 || rel[:3] != "../") {
				break
			}
			np := filepath.Dir(p)
			if np == p {
				break
			}
			p = np
		}
	}
	return p
}

func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		c := filepath.Clean(x)
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}
