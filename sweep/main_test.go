package sweep

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMain collects garbage less often than Go's default: simulated runs allocate
// mostly short-lived garbage, and the sweep tests run about a fifth faster for a few
// hundred megabytes. GOGC, when set, wins.
func TestMain(m *testing.M) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(m.Run())
}
