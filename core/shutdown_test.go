package core

import (
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
)

// run drives a lone node for d of its clock: disk ops complete at once, ticks come at
// its deadlines, check runs after every step.
func run(t testing.TB, n *Node, now *int64, d time.Duration, check func()) {
	t.Helper()
	end := *now + int64(d)
	for *now < end {
		out := n.Drain()
		if out.Fatal != nil {
			t.Fatal(out.Fatal)
		}
		if len(out.Ops) > 0 {
			for _, op := range out.Ops {
				n.Done(*now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
			}
		} else {
			*now = max(*now+int64(time.Microsecond), min(n.Deadline(), end))
			n.Tick(*now)
		}
		check()
	}
}

// A broker in controlled shutdown gives its lease up before it asks the controller to
// move its leaderships (which the controller does at once), and no heartbeat answer
// gives it back; once it leads nothing it may stop.
func TestShutdownGivesTheLeaseUp(t *testing.T) {
	n, err := New(Config{NodeID: 1, Voters: []int32{1}, Broker: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	n.Start(now, disk.Recovered{Files: map[string][]byte{}})
	run(t, n, &now, 5*time.Second, func() {})
	if !n.LeaseValid(now) || n.ShutdownReady() {
		t.Fatalf("after boot: lease valid %v, shutdown ready %v", n.LeaseValid(now), n.ShutdownReady())
	}
	n.Shutdown()
	if n.LeaseValid(now) {
		t.Fatal("the lease outlives Shutdown")
	}
	if n.Deadline() > now {
		t.Fatalf("the heartbeat asking for the shutdown is due at %d, not now (%d)", n.Deadline(), now)
	}
	run(t, n, &now, 5*time.Second, func() {
		if n.LeaseValid(now) {
			t.Fatalf("a heartbeat answer gave the lease back at %d", now)
		}
	})
	if !n.ShutdownReady() {
		t.Fatal("the controlled shutdown never completed")
	}
}

// A broker whose lease may have ended stops acting as a group coordinator at once, as it
// stops serving partition reads: the controller may already have moved the offsets
// partition, and a coordinator elsewhere changed what this one would answer.
func TestCoordinatorNeedsTheLease(t *testing.T) {
	n, err := New(Config{NodeID: 1, Voters: []int32{1}, Broker: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	n.Start(now, disk.Recovered{Files: map[string][]byte{}})
	run(t, n, &now, 5*time.Second, func() {})
	code := int16(-1)
	for i := 0; i < 100 && code != 0; i++ {
		n.FindCoordinator("g", func(int32, string, int32, int16) {}) // creates __consumer_offsets
		run(t, n, &now, 100*time.Millisecond, func() {})
		_, code = n.Coordinator("g")
	}
	if code != 0 {
		t.Fatalf("no coordinator for g after 10s: code %d", code)
	}
	n.Shutdown() // gives the lease up before anything else moves
	if _, code := n.Coordinator("g"); code != 16 {
		t.Fatalf("a broker without its lease still coordinates g: code %d, want NOT_COORDINATOR (16)", code)
	}
}
