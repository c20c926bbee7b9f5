package cluster

import (
	"fmt"
	"log/slog"

	"coordlab/lazyfs"
)

// LoseUnsynced is a runtime's LoseUnsynced once it has found the member's
// mount (nil when its data directory is not on lazyfs; configField names
// the runtime's setting for it) and whether the member still runs: it
// refuses what cannot be done, else drops what the member wrote without
// fsyncing and says what was lost. rt prefixes the errors ("local").
func LoseUnsynced(rt, name, configField string, fs *lazyfs.FS, running bool, log *slog.Logger) (string, error) {
	switch {
	case fs == nil:
		if why := lazyfs.Unavailable(); why != "" {
			return "", fmt.Errorf("%w: lose unsynced: %s", ErrUnsupported, why)
		}
		return "", fmt.Errorf("%w: lose unsynced: the data directories are not mounted through lazyfs (%s)", ErrUnsupported, configField)
	case running:
		return "", fmt.Errorf("%s: lose unsynced on %s: the member is running: kill it first", rt, name)
	}
	lost, err := fs.Lose()
	if err != nil {
		return "", fmt.Errorf("%s: lose unsynced on %s: %w", rt, name, err)
	}
	log.Info("unsynced data dropped", "node", name, "lost", lost.String())
	return lost.String(), nil
}
