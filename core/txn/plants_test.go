package txn

import (
	"strings"
	"testing"
)

// Each plant scenario drives a coordinator configured with cfg through a story in which
// the planted bug breaks one of seedlog's promises, checks the promise the way the
// simulator's checkers do, and returns the violation it saw ("" for none). Without the
// plant every scenario must come out clean; with it (-tags simbugs) each must be caught.
var plantScenarios = map[string]func(t *testing.T, cfg Config) string{
	"txn-marker-before-durable": markerBeforeDurableScenario,
}

func TestPlantScenariosCleanWithoutPlants(t *testing.T) {
	for name, scenario := range plantScenarios {
		t.Run(name, func(t *testing.T) {
			if v := scenario(t, testConfig()); v != "" {
				t.Errorf("violation without the plant: %s", v)
			}
		})
	}
}

// markerBeforeDurableScenario: a commit whose PrepareCommit record is slow to become
// durable, and then is lost with the partition's leadership. Promise 8: a transaction's
// markers are written only for an end that is durable, so a coordinator taking over
// never forgets an end its partitions already saw; and the producer hears success only
// for a durable end.
func markerBeforeDurableScenario(t *testing.T, cfg Config) string {
	h := newHarnessConfig(t, cfg)
	h.allowViolations = true
	pid, epoch := h.begin("tx", tps("t", 0, 1)...)
	h.log.auto = false
	ec := h.end("tx", pid, epoch, true)
	answered := ec.answered() && ec.get() == codeNone
	h.log.fail(0, ErrNotLeader)
	h.log.auto = true
	h.failover(testEpoch + 1)
	st := h.status("tx")
	switch {
	case len(h.violations) > 0:
		return strings.Join(h.violations, "; ")
	case answered && st.State != "PrepareCommit" && st.State != "CompleteCommit":
		return "EndTxn answered success, the next coordinator finds the transaction " + st.State
	}
	return ""
}
