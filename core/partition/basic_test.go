package partition

import (
	"testing"
)

func TestProduceReplicatesAndAcks(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	p := c.produce(1, batchOf("a", "b"), -1)
	if got := p.one(t); got.Err != CodeNone || got.BaseOffset != 0 {
		t.Fatalf("produce: %+v", got)
	}
	p = c.produce(1, batchOf("c"), -1)
	if got := p.one(t); got.Err != CodeNone || got.BaseOffset != 2 {
		t.Fatalf("produce: %+v", got)
	}
	want := "0:a 1:b 2:c"
	for _, id := range c.ids {
		if got := joined(c.logValues(id)); got != want {
			t.Errorf("node %d log %q, want %q", id, got, want)
		}
	}
	if hw := c.r(1).Status().HighWatermark; hw != 3 {
		t.Fatalf("leader hw %d", hw)
	}
}
