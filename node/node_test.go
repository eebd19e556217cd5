package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceN produces n records with values prefix-0..n-1 to partition p (the client must
// use the manual partitioner when the topic has more than one) and fails the test on any
// error.
func produceN(t *testing.T, cl *kgo.Client, topic string, p int32, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%s-%d", prefix, i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// readAll reads partition p of topic from offset 0 until it has want records.
func readAll(t *testing.T, cl *kgo.Client, topic string, p int32, want int) []*kgo.Record {
	t.Helper()
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(0)}})
	defer cl.RemoveConsumePartitions(map[string][]int32{topic: {p}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s/%d: %d of %d records after 30s", topic, p, len(out), want)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func checkDense(t *testing.T, recs []*kgo.Record, prefix string) {
	t.Helper()
	for i, r := range recs {
		if r.Offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, r.Offset)
		}
		if want := fmt.Sprintf("%s-%d", prefix, i); string(r.Value) != want {
			t.Fatalf("offset %d holds %q, want %q", i, r.Value, want)
		}
	}
}

func TestProduceFetchReplicated(t *testing.T) {
	tc := startCluster(t, 3, 3, nil)
	admin := tc.client()
	tc.createTopic(admin, "t", 1, 3)
	prod := tc.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	produceN(t, prod, "t", 0, "v", 300)
	cons := tc.client()
	checkDense(t, readAll(t, cons, "t", 0, 300), "v")
}

// TestBrokerOutsideQuorum runs a fourth broker that is not a voter and that no
// configuration lists: the other nodes reach its peer listener at the address its
// authenticated handshake announced or its registration advertises, and it replicates.
func TestBrokerOutsideQuorum(t *testing.T) {
	tc := startCluster(t, 4, 3, nil)
	if tc.nodes[3].PeerAddr() == "" || tc.nodes[3].PeerAddr() == tc.nodes[3].ClientAddr() {
		t.Fatalf("node 4 peer listener %q, client listener %q", tc.nodes[3].PeerAddr(), tc.nodes[3].ClientAddr())
	}
	admin := tc.client()
	waitUntil(t, "four brokers in the metadata", func() bool {
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), admin)
		return err == nil && len(resp.Brokers) == 4
	})
	tc.createTopic(admin, "four", 4, 3)
	prod := tc.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(4) {
		produceN(t, prod, "four", p, fmt.Sprint("p", p), 20)
		checkDense(t, readAll(t, tc.client(), "four", p, 20), fmt.Sprint("p", p))
	}
	// Every partition has three replicas among four brokers, so node 4 hosts at least
	// one, and acks=all needed it while it was in the ISR.
	hosted := 0
	tc.nodes[3].onLoop(func() { hosted = len(tc.nodes[3].core.Replicas()) }, time.Second)
	if hosted == 0 {
		t.Fatal("node 4 hosts no replica")
	}
}

// TestPipelinedRequestsAnsweredInOrder sends many requests back to back on one
// connection, more than the in-flight bound, and expects every answer in order.
func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		must(t, c.Set("max.inflight.requests.per.connection", "2"))
	})
	r := dialRaw(t, tc.nodes[0].ClientAddr())
	var batch []byte
	for range 50 {
		batch = append(batch, r.encode(kmsg.NewPtrApiVersionsRequest())...)
	}
	r.write(batch)
	for i := range 50 {
		resp := kmsg.NewPtrApiVersionsResponse()
		corr, err := wire.ParseResponse(r.readFrame(), resp)
		if err != nil || corr != int32(i+1) || len(resp.ApiKeys) == 0 {
			t.Fatalf("answer %d: correlation id %d, %d keys, %v", i, corr, len(resp.ApiKeys), err)
		}
	}
}

// TestConnectionLimit checks max.connections: a connection beyond it is closed at once,
// the ones within it are served.
func TestConnectionLimit(t *testing.T) {
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		must(t, c.Set("max.connections", "2"))
	})
	addr := tc.nodes[0].ClientAddr()
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	a.roundTrip(kmsg.NewPtrApiVersionsRequest())
	// b stays silent: an idle socket counts too.
	waitUntil(t, "both connections counted", func() bool { return tc.nodes[0].connCount.Load() == 2 })
	c := dialRaw(t, addr)
	c.write(c.encode(kmsg.NewPtrApiVersionsRequest()))
	c.expectClosed("a third connection")
	a.nc.Close()
	waitUntil(t, "the closed connection to be released", func() bool { return tc.nodes[0].connCount.Load() < 2 })
	d := dialRaw(t, addr)
	d.roundTrip(kmsg.NewPtrApiVersionsRequest())
	b.roundTrip(kmsg.NewPtrApiVersionsRequest())
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
