package sim

import (
	"testing"
	"time"
)

// The failover time of an outage is measured only where a producer saw the outage, up
// to the first success that cannot predate the fault; an outage inside a measured one
// is part of it.
func TestMeasureFailovers(t *testing.T) {
	const s = int64(time.Second)
	tp := TopicPartition{"d0", 0}
	fault := outage{kind: FailoverCrash, node: 2, tp: tp, at: 10 * s, sentBy: 10*s + 5}
	produce := func(call, ret int64, out Outcome, node int32) *Op {
		return &Op{Kind: OpProduce, Topic: tp.Topic, Partition: tp.Partition, Acks: -1, Call: call, Return: ret, Outcome: out, Node: node}
	}
	for _, c := range []struct {
		name string
		ops  []*Op
		want time.Duration
		by   int32
	}{
		{"no producer", nil, Unmeasured, -1},
		{"waiting at the fault", []*Op{produce(9*s, 14*s, OK, 3)}, 4 * time.Second, 3},
		{"tried after it and failed", []*Op{produce(11*s, Never, Indeterminate, 2), produce(12*s, 13*s, OK, 3)}, 3 * time.Second, 3},
		{"never sent", []*Op{{Kind: OpProduce, Topic: "d0", Acks: -1, Call: 11 * s, Return: 12 * s, Outcome: Failed, Code: -1}, produce(12*s, 13*s, OK, 3)},
			3 * time.Second, 3},
		{"first try succeeded: nobody saw the outage", []*Op{produce(20*s, 20*s+1, OK, 3)}, Unmeasured, -1},
		{"refused for its own sake", []*Op{{Kind: OpProduce, Topic: "d0", Acks: -1, Call: 11 * s, Return: 11 * s, Outcome: Failed, Code: errInvalidTimestamp},
			produce(12*s, 13*s, OK, 3)}, Unmeasured, -1},
		{"acks=1 does not count", []*Op{produce(9*s, 14*s, OK, 3)}, Unmeasured, -1},
		{"no success before the end", []*Op{produce(9*s, Never, Indeterminate, 2)}, Unmeasured, -1},
		{"an answer on its way at the fault", []*Op{produce(9*s, 10*s+3, OK, 2), produce(9*s, 15*s, OK, 2)}, 5 * time.Second, 2},
	} {
		if c.name == "acks=1 does not count" {
			c.ops[0].Acks = 1
		}
		got := measureFailovers([]outage{fault}, c.ops)
		if len(got) != 1 || got[0].Time != c.want || got[0].By != c.by {
			t.Errorf("%s: %v, want time %v by %d", c.name, got, c.want, c.by)
		}
	}

	// A second fault before the first outage ended is part of it; one after is not.
	ops := []*Op{produce(9*s, 14*s, OK, 3), produce(15*s, 20*s, OK, 4)}
	again := fault
	again.node, again.at, again.sentBy = 3, 12*s, 12*s
	later := fault
	later.node, later.at, later.sentBy = 3, 16*s, 16*s
	got := measureFailovers([]outage{fault, again, later}, ops)
	if len(got) != 2 || got[0].Time != 4*time.Second || got[1].At != 16*time.Second || got[1].Time != 4*time.Second {
		t.Fatalf("overlapping outages: %v", got)
	}
}
