//go:build simbugs

package scenario

import (
	"os"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/sim"
)

// Stories that prove a fix with an expectation also catch its planted bug: the story
// fails at that expectation with the plant switched on.
func TestPlantsFailTheirStories(t *testing.T) {
	for _, c := range []struct{ plant, story, line string }{
		{"barrier-waits-out-leader-change", "barrier-outlives-controller", "expect last == exists"},
		{"shutdown-waits-for-quorum", "last-broker-stops", "expect role 3 == down"},
		{"new-leader-full-backoff", "failover-within-two-seconds", "expect took <= 2s"},
		{"unhosted-fetch-dropped", "first-write-after-create", "expect took <= 1s"},
	} {
		script, err := os.ReadFile("testdata/" + c.story + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Run(string(script), Options{Base: sim.Options{Plants: []string{c.plant}}})
		if err == nil || !strings.Contains(err.Error(), c.line) {
			t.Errorf("plant %s: story %s gave %v, want a failure at %q", c.plant, c.story, err, c.line)
		}
	}
}
