package integration

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type throttleSeen struct{ n, most atomic.Int64 }

func (h *throttleSeen) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.n.Add(1)
		for {
			m := h.most.Load()
			if int64(d) <= m || h.most.CompareAndSwap(m, int64(d)) {
				break
			}
		}
	}
}

// A franz-go producer under a producer_byte_rate quota is throttled: a response carries
// the throttle time and what the broker takes stays within what Kafka's windowed rate
// allows. The rate is measured over at least quota.window.num-1 windows, so a fresh
// client may send up to the rate times that span before any throttle; the bound below
// adds the run's length, and twice the batches pipelined before a throttled answer.
func TestProducerByteRateQuota(t *testing.T) {
	// A short window keeps the throttles, and the test, short.
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{"min.insync.replicas": "1", "quota.window.num": "3"}})
	admin := c.client()
	c.waitBrokers(admin, 1)
	c.createTopic(admin, "quota", 1, 1)
	const rate = 20_000 // bytes per second: unthrottled, this producer sends megabytes a second
	adm := kadm.NewClient(admin)
	name := "throttled"
	entity := kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}}
	c.eventually(60*time.Second, "set the quota", func() bool {
		res, err := adm.AlterClientQuotas(context.Background(), []kadm.AlterClientQuotaEntry{{Entity: entity,
			Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: rate}}}})
		return err == nil && len(res) == 1 && res[0].Err == nil
	})
	described, err := adm.DescribeClientQuotas(context.Background(), false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchName: &name}})
	if err != nil || len(described) != 1 || len(described[0].Values) != 1 || described[0].Values[0].Value != rate {
		t.Fatalf("DescribeClientQuotas: %+v, %v", described, err)
	}

	const batchMax, inFlight = 16 << 10, 5
	hook := &throttleSeen{}
	cl := c.client(kgo.ClientID(name), kgo.DefaultProduceTopic("quota"), kgo.ProducerBatchMaxBytes(batchMax),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedRecords(512), kgo.WithHooks(hook))
	warm, cancelWarm := context.WithTimeout(context.Background(), 30*time.Second)
	if err := cl.ProduceSync(warm, &kgo.Record{Value: []byte("warm-up")}).FirstErr(); err != nil {
		t.Fatalf("first produce: %v", err)
	}
	cancelWarm()
	const run = 3 * time.Second
	value := make([]byte, 1000) // uncompressed: the broker counts the bytes of the batches
	var acked, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(run)
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	for time.Now().Before(deadline) {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: value}, func(r *kgo.Record, err error) {
			defer wg.Done()
			switch {
			case err != nil:
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			case time.Now().Before(deadline):
				acked.Add(int64(len(r.Value)))
			}
		})
	}
	wg.Wait()
	// Values only: the batches the broker counts are larger, so this is below what it
	// measured.
	got := acked.Load()
	window := 3 * time.Second // quota.window.num=3 of 1 s
	bound := int64(rate*(run+window).Seconds()) + 2*inFlight*batchMax
	t.Logf("%d value bytes acknowledged in %v under a quota of %d B/s (bound %d); %d throttled responses (up to %v); %d failed (%v)", got, run, rate, bound, hook.n.Load(), time.Duration(hook.most.Load()), failed.Load(), firstErr.Load())
	if got > bound {
		t.Errorf("%d bytes acknowledged in %v, more than the quota allows (%d)", got, run, bound)
	}
	if got < int64(rate*(window-time.Second).Seconds()) {
		t.Fatalf("the producer sent only %d bytes in %v: the quota (which lets a new client send for about a window first) was never reached", got, run)
	}
	if hook.n.Load() == 0 {
		t.Error("no response carried a throttle time")
	}
}

// A client over its request_percentage is throttled on any request, not only produce
// and fetch: the broker measures the time it spends on the client's requests, answers
// with a throttle time (at most one quota window) and mutes the connection. A client id
// without the quota, sending the same requests at the same time, is the baseline.
func TestRequestPercentageQuota(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{"min.insync.replicas": "1", "quota.window.num": "3"}})
	admin := c.client()
	c.waitBrokers(admin, 1)
	adm := kadm.NewClient(admin)
	name := "busy"
	entity := kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}}
	// 0.01 % of a thread: 100 µs of broker time a second, a few Metadata requests.
	c.eventually(60*time.Second, "set the quota", func() bool {
		res, err := adm.AlterClientQuotas(context.Background(), []kadm.AlterClientQuotaEntry{{Entity: entity,
			Ops: []kadm.AlterClientQuotaOp{{Key: "request_percentage", Value: 0.01}}}})
		return err == nil && len(res) == 1 && res[0].Err == nil
	})
	const run = 3 * time.Second
	ask := func(clientID string, hook *throttleSeen, done *atomic.Int64, wg *sync.WaitGroup) {
		defer wg.Done()
		cl := c.client(kgo.ClientID(clientID), kgo.WithHooks(hook))
		ctx, cancel := context.WithTimeout(context.Background(), run)
		defer cancel()
		for ctx.Err() == nil {
			req := kmsg.NewPtrMetadataRequest()
			if _, err := req.RequestWith(ctx, cl); err == nil {
				done.Add(1)
			}
		}
	}
	var busy, free atomic.Int64
	busyHook, freeHook := &throttleSeen{}, &throttleSeen{}
	var wg sync.WaitGroup
	wg.Add(2)
	go ask(name, busyHook, &busy, &wg)
	go ask("free", freeHook, &free, &wg)
	wg.Wait()
	t.Logf("in %v: %d Metadata answers under request_percentage 0.01 (%d throttled, up to %v), %d without a quota (%d throttled)",
		run, busy.Load(), busyHook.n.Load(), time.Duration(busyHook.most.Load()), free.Load(), freeHook.n.Load())
	if busyHook.n.Load() == 0 {
		t.Fatal("no response to the client over its request quota carried a throttle time")
	}
	if most := time.Duration(busyHook.most.Load()); most > time.Second {
		t.Errorf("a throttle of %v, more than one quota window (1 s)", most)
	}
	if freeHook.n.Load() != 0 {
		t.Errorf("the client without a quota was throttled %d times", freeHook.n.Load())
	}
	if free.Load() < 100 || busy.Load()*10 > free.Load() {
		t.Errorf("%d answers under the quota against %d without: the quota did not slow the client", busy.Load(), free.Load())
	}
}
