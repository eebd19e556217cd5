package sim_test

import (
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// A broker that leads a data partition under acks=all load crashes and stays down (seed
// 14: a controller apart, brokers 2 to 4, topic d1 with three replicas and
// min.insync.replicas 2). Its partitions fail over to another replica once the
// controller fenced the broker, a session timeout after the last heartbeat it heard
// (core/controller fenceAt), which the broker sent at most a heartbeat interval before
// it died: the failover time is at least the session timeout less one heartbeat
// interval (less the clocks' drift), and within the liveness bound. The same client
// operations without the crash report no failover at all.
func TestCrashedLeaderFailsOverAfterItsSession(t *testing.T) {
	requireNode(t)
	const seed = 14
	base := sim.Run(sim.Options{Seed: seed})
	var ops sim.Schedule
	for _, st := range base.Schedule.Steps {
		if !st.Kind.IsFault() {
			ops.Steps = append(ops.Steps, st)
		}
	}
	quiet := sim.Run(sim.Options{Seed: seed, Schedule: &ops})
	if quiet.Failure != nil || len(quiet.Failovers) > 0 {
		t.Fatalf("seed %d without faults: %v, failovers %v", seed, quiet.Failure, quiet.Failovers)
	}

	cfg := base.Config
	at := cfg.SafetyDuration / 3
	leader := leaderAt(t, seed, &ops, at)
	crashed := sim.Schedule{Steps: slices.Clone(ops.Steps)}
	i := slices.IndexFunc(crashed.Steps, func(st sim.Step) bool { return st.At > at })
	crashed.Steps = slices.Insert(crashed.Steps, i, sim.Step{At: at, Kind: sim.StepCrash, Node: leader, Down: time.Minute})
	r := sim.Run(sim.Options{Seed: seed, Schedule: &crashed})
	if r.Failure != nil {
		t.Fatalf("seed %d with node %d crashed at %v: %v", seed, leader, at, r.Failure)
	}

	tm := cfg.Timing
	lo := time.Duration(float64(tm.SessionTimeout-tm.HeartbeatInterval) * (1 - tm.ClockDriftMax))
	measured := 0
	for _, f := range r.Failovers {
		if f.Kind != sim.FailoverCrash || f.Node != leader || f.At != at {
			t.Fatalf("a failover no fault of the run explains: %v", f)
		}
		if !f.Measured() {
			continue
		}
		measured++
		// Down for a minute, the node is back only once the liveness phase began.
		if f.By == leader || f.Time < lo || f.Time > cfg.LivenessBound {
			t.Errorf("%v: want another broker's answer within [%v, %v]", f, lo, cfg.LivenessBound)
		}
	}
	if measured == 0 {
		t.Fatalf("node %d crashed while leading under acks=all load, and no failover was measured: %v", leader, r.Failovers)
	}
}

// leaderAt runs seed's schedule until at and returns the broker that leads a data
// partition whose topic can lose a replica and still take acks=all writes.
func leaderAt(t *testing.T, seed uint64, sched *sim.Schedule, at time.Duration) int32 {
	t.Helper()
	w, err := sim.NewWorld(sim.Options{Seed: seed, Schedule: sched})
	if err != nil {
		t.Fatal(err)
	}
	if f := w.RunFor(at); f != nil {
		t.Fatalf("seed %d until %v: %v", seed, at, f)
	}
	cfg := w.Config()
	for _, id := range cfg.Brokers() {
		for _, r := range w.View().Replicas(id) {
			for _, tp := range cfg.Data.Topics {
				if r.Leader && r.Topic == tp.Name && tp.MinISR < tp.RF && len(r.ISR) > int(tp.MinISR) {
					return id
				}
			}
		}
	}
	t.Fatalf("seed %d: no broker leads a data partition that can fail over at %v", seed, at)
	return -1
}
