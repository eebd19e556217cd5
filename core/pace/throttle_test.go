package pace

import (
	"testing"

	"pgregory.net/rapid"
)

// Whatever the order and size of the steps, the bytes of the steps done before any
// moment the throttle lets a step start never exceed the rate times the time since the
// first step started.
func TestThrottleBoundsTheAverageRate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		th := Throttle{BytesPerSec: rapid.Int64Range(1, 1<<30).Draw(t, "rate")}
		now, first, spent := int64(0), int64(-1), int64(0)
		for range rapid.IntRange(1, 50).Draw(t, "steps") {
			now = max(now+rapid.Int64Range(0, 2e9).Draw(t, "idle"), th.Ready())
			if first < 0 {
				first = now
			}
			if limit := float64(th.BytesPerSec) * float64(now-first) / 1e9; float64(spent) > limit+1 {
				t.Fatalf("a step starts at %d ns with %d bytes done since %d: above %d B/s", now, spent, first, th.BytesPerSec)
			}
			b := rapid.Int64Range(0, 1<<24).Draw(t, "bytes")
			now += rapid.Int64Range(0, 1e9).Draw(t, "took")
			th.Spent(now, b)
			spent += b
		}
	})
	var off *Throttle
	off.Spent(5, 1<<20)
	if off.Ready() != 0 || (&Throttle{}).Ready() != 0 {
		t.Fatal("a nil or zero throttle held a step")
	}
}

// A begun step holds every other until it ends or is given up; then the rate applies
// from its end.
func TestThrottleBegunStepHoldsTheNext(t *testing.T) {
	th := Throttle{BytesPerSec: 1000}
	th.Begin()
	if th.Ready() <= 1e18 {
		t.Fatalf("ready at %d while a step runs", th.Ready())
	}
	th.End(5e9, 500) // 500 bytes at 1000 B/s: half a second
	if th.Ready() != 5.5e9 {
		t.Fatalf("ready at %d after the step, want 5.5e9", th.Ready())
	}
	th.Begin()
	th.Abandon()
	if th.Ready() != 5.5e9 {
		t.Fatalf("ready at %d after an abandoned step, want 5.5e9", th.Ready())
	}
	th.Abandon() // none running: nothing happens
	th.Begin()
	th.End(6e9, 0)
	if th.Ready() != 5.5e9 {
		t.Fatalf("ready at %d after an empty step", th.Ready())
	}
	var off Throttle // no rate: nothing is held, begun or not
	off.Begin()
	if off.Ready() != 0 {
		t.Fatal("a throttle without a rate held a step")
	}
}
