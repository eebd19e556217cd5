package txn

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Each plant scenario drives a coordinator configured with cfg through a story in which
// the planted bug breaks one of seedlog's promises, checks the promise the way the
// simulator's checkers do, and returns the violation it saw ("" for none). Without the
// plant every scenario must come out clean; with it (-tags simbugs) each must be caught.
var plantScenarios = map[string]func(t *testing.T, cfg Config) string{
	"txn-marker-before-durable": markerBeforeDurableScenario,
	"txn-id-expires-ongoing":    idExpiresOngoingScenario,
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

// idExpiresOngoingScenario: a transaction stays open (well within its timeout) longer
// than the id expiration. An id is removed only when no transaction is open or ending:
// the checker follows each id's state through the coordinator's events, as the
// simulator's does, and an expiry while the id is Ongoing or Prepare* breaks the promise.
func idExpiresOngoingScenario(t *testing.T, cfg Config) string {
	cfg.IDExpiration = time.Second
	h := newHarnessConfig(t, cfg)
	pid, epoch := h.begin("tx", tps("t", 0)...)
	h.run(5 * time.Second)
	h.end("tx", pid, epoch, true)
	h.run(5 * time.Second)
	state := map[string]string{}
	for _, e := range h.events {
		switch e.Kind {
		case TxnBegin:
			state[e.TxnID] = "Ongoing"
		case TxnPrepareCommit, TxnPrepareAbort:
			state[e.TxnID] = "Prepare"
		case TxnCompleteCommit, TxnCompleteAbort:
			state[e.TxnID] = "Complete"
		case TxnIDExpired:
			if s := state[e.TxnID]; s == "Ongoing" || s == "Prepare" {
				return fmt.Sprintf("%q expired at %d ms while %s", e.TxnID, e.AtMs, s)
			}
			delete(state, e.TxnID)
		}
	}
	return ""
}
