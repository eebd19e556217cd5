package sim_test

import (
	"slices"
	"testing"

	"github.com/seedlog/seedlog/sim"
)

// With the byzantine client on, every checker still passes: authentication refuses
// every forged peer frame, nodes refuse or close on every bad client frame, and the
// cluster stays live. The attacks must have happened, and none may have got through.
func TestByzantineClientIsRefused(t *testing.T) {
	requireNode(t)
	cov := sim.Coverage{}
	for seed := uint64(1); seed <= 24; seed++ {
		r := sim.Run(sim.Options{Seed: seed, Byzantine: true})
		if r.Failure != nil {
			t.Errorf("seed %d: %v", seed, r.Failure)
		}
		cov.Merge(r.Coverage)
	}
	for _, k := range []string{"fault:byzantine", "attack:client-listener", "attack:client-closed", "attack:peer-listener",
		"attack:peer-handshake", "attack:aimed-fetch", "auth:refused:tag", "auth:refused:handshake", "auth:session",
		"attack:kind:tag-bomb-header", "attack:kind:tag-bomb-body", "attack:kind:peer-preamble", "attack:kind:replica-fetch"} {
		if cov[k] == 0 {
			t.Errorf("%s never happened", k)
		}
	}
	if n := cov["attack:peer-delivered"]; n > 0 {
		t.Errorf("%d forged peer frames reached a node", n)
	}
	t.Logf("client frames %d (closed %d, answered %d), peer frames %d, handshakes %d, refused: tag %d, no session %d, reset %d, handshake %d",
		cov["attack:client-listener"], cov["attack:client-closed"], cov["attack:client-answered"], cov["attack:peer-listener"],
		cov["attack:peer-handshake"], cov["auth:refused:tag"], cov["auth:refused:no-session"], cov["auth:refused:reset"], cov["auth:refused:handshake"])
}

// The byzantine client is part of the seed: a run is deterministic with it, its trace
// says it was switched on, and a replay from the trace alone reproduces the run.
func TestByzantineRunsReplay(t *testing.T) {
	requireNode(t)
	for seed := uint64(1); seed <= 5; seed++ {
		a, b := sim.Run(sim.Options{Seed: seed, Byzantine: true}), sim.Run(sim.Options{Seed: seed, Byzantine: true})
		if a.Fingerprint != b.Fingerprint || a.Events != b.Events {
			t.Fatalf("seed %d is not deterministic with the byzantine client: %016x then %016x", seed, a.Fingerprint, b.Fingerprint)
		}
	}
	r := sim.Run(sim.Options{Seed: 3, Byzantine: true, KeepTrace: true})
	h := r.Trace.Header
	if !slices.Contains(h.Modes, sim.ModeByzantine) {
		t.Fatalf("trace modes %v lack %s", h.Modes, sim.ModeByzantine)
	}
	got, err := sim.Replay(sim.Options{})(h)
	if err != nil || got != r.Fingerprint {
		t.Fatalf("replay: fingerprint %016x, %v; want %016x", got, err, r.Fingerprint)
	}
	if plain := sim.Run(sim.Options{Seed: 3}); plain.Fingerprint == r.Fingerprint {
		t.Fatal("the byzantine client does not change the run: the test shows nothing")
	}
}

// Peer connections: every pair that talks authenticates once per pair of incarnations,
// and crashes end connections, whose datagrams still in flight are then refused.
func TestPeerSessionsFollowIncarnations(t *testing.T) {
	requireNode(t)
	cov := sim.Coverage{}
	for seed := uint64(1); seed <= 20; seed++ {
		r := sim.Run(sim.Options{Seed: seed})
		if r.Failure != nil {
			t.Errorf("seed %d: %v", seed, r.Failure)
		}
		if !r.Config.Faults.Byzantine {
			cov.Merge(r.Coverage)
		}
	}
	if cov["auth:session"] == 0 || cov["auth:refused:reset"] == 0 {
		t.Fatalf("sessions %d, datagrams refused after a reset %d", cov["auth:session"], cov["auth:refused:reset"])
	}
	if cov["auth:refused:tag"] > 0 || cov["attack:peer-listener"] > 0 {
		t.Fatalf("forged frames without a byzantine client: %d refused by tag, %d sent", cov["auth:refused:tag"], cov["attack:peer-listener"])
	}
}
