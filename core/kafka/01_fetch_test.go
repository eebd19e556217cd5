package kafka

import (
	"math"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchOrders asks for every partition of "orders" with the given byte limits.
func fetchOrders(t *testing.T, b *fakeBroker, maxBytes, partitionMaxBytes int32) *kmsg.FetchResponse {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID, req.MaxBytes, req.MinBytes, req.SessionEpoch = -1, maxBytes, 1, -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "orders"
	for p := range int32(3) {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.CurrentLeaderEpoch, fp.PartitionMaxBytes = p, -1, partitionMaxBytes
		ft.Partitions = append(ft.Partitions, fp)
	}
	req.Topics = append(req.Topics, ft)
	r := &replies{t: t}
	Fetch(b, viaWire(t, req), r.reply)
	resp := fetched(t, r.one())
	checkWire(t, resp)
	return resp
}

func hostOrders(b *fakeBroker, batches ...int) []*fakeReplica {
	var reps []*fakeReplica
	for p := range int32(3) {
		r := b.host("orders", p)
		r.batches = slices.Clone(batches)
		reps = append(reps, r)
	}
	return reps
}

func recordBytes(resp *kmsg.FetchResponse) []int {
	var out []int
	for _, p := range resp.Topics[0].Partitions {
		out = append(out, len(p.RecordBatches))
	}
	return out
}

// A client asking for 2 GiB gets at most fetch.max.bytes read for it: partitions are
// read one after another with what the budget has left, and once it is spent the rest
// answer with their offsets only.
func TestFetchBoundedByBrokerFetchBytesMax(t *testing.T) {
	b := newFakeBroker(t)
	b.fetchBytesMax = 1000
	reps := hostOrders(b, 400, 400, 400, 400)
	resp := fetchOrders(t, b, math.MaxInt32, math.MaxInt32)
	want := [][]string{{"fetch max=1000 offsets-only=false"}, {"fetch max=200 offsets-only=false"}, {"fetch max=0 offsets-only=true"}}
	for p, r := range reps {
		if !slices.Equal(r.calls, want[p]) {
			t.Errorf("partition %d asked %v, want %v", p, r.calls, want[p])
		}
	}
	// Partition 1's first batch was read beyond the budget (as the disk returns a first
	// batch whole) and dropped: at most one batch beyond the budget is ever read.
	if got := recordBytes(resp); !slices.Equal(got, []int{800, 0, 0}) {
		t.Fatalf("record bytes %v", got)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.HighWatermark != 42 {
			t.Fatalf("partition %d: code %d, high watermark %d", p.Partition, p.ErrorCode, p.HighWatermark)
		}
	}
}

// The request's own MaxBytes bounds the response when below the broker's, and each
// partition reads at most its PartitionMaxBytes; the first partition with records
// returns a whole batch even when larger, as in Kafka.
func TestFetchBoundedByRequestAndPartitionMaxBytes(t *testing.T) {
	b := newFakeBroker(t)
	reps := hostOrders(b, 400, 400)
	resp := fetchOrders(t, b, 900, 300)
	want := []string{"fetch max=300 offsets-only=false"}
	if !slices.Equal(reps[0].calls, want) || !slices.Equal(reps[1].calls, want) {
		t.Fatalf("asked %v and %v", reps[0].calls, reps[1].calls)
	}
	if got := recordBytes(resp); !slices.Equal(got, []int{400, 400, 0}) {
		t.Fatalf("record bytes %v", got)
	}
	if got := reps[2].calls; !slices.Equal(got, []string{"fetch max=100 offsets-only=false"}) {
		t.Fatalf("partition 2 asked %v", got)
	}
	// Nothing but the broker's default limits a client asking for everything.
	b = newFakeBroker(t)
	reps = hostOrders(b, 10)
	fetchOrders(t, b, math.MaxInt32, math.MaxInt32)
	if got := reps[0].fetches[0].MaxBytes; got != FetchBytesMaxDefault {
		t.Fatalf("first read of %d bytes, want fetch.max.bytes' default %d", got, FetchBytesMaxDefault)
	}
}

// A partition whose read is under way holds the next one back: the budget it leaves is
// known only once it answers.
func TestFetchReadsPartitionsInTurn(t *testing.T) {
	b := newFakeBroker(t)
	reps := hostOrders(b, 400)
	reps[0].hold = true
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID, req.MaxBytes, req.MinBytes, req.SessionEpoch = -1, 1000, 1, -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "orders"
	for p := range int32(3) {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.CurrentLeaderEpoch, fp.PartitionMaxBytes = p, -1, 1000
		ft.Partitions = append(ft.Partitions, fp)
	}
	req.Topics = append(req.Topics, ft)
	r := &replies{t: t}
	Fetch(b, req, r.reply)
	if len(r.got) != 0 || len(reps[1].calls) != 0 {
		t.Fatalf("partition 1 read before partition 0 answered: %v", reps[1].calls)
	}
	reps[0].release(0)
	if got := recordBytes(fetched(t, r.one())); !slices.Equal(got, []int{400, 400, 0}) {
		t.Fatalf("record bytes %v", got)
	}
	if got := reps[2].calls; !slices.Equal(got, []string{"fetch max=200 offsets-only=false"}) {
		t.Fatalf("partition 2 asked %v", got)
	}
}

// Partitions without records are answered with an empty record set, never a null one,
// as Apache Kafka writes them: librdkafka 2.0 cannot parse a null one. The handler
// builds them so; nothing downstream rewrites responses.
func TestFetchEmptyRecordsAreNotNull(t *testing.T) {
	b := newFakeBroker(t)
	b.fetchBytesMax = 500
	hostOrders(b, 400, 400)
	resp := fetchOrders(t, b, math.MaxInt32, math.MaxInt32)
	for _, p := range resp.Topics[0].Partitions {
		if p.RecordBatches == nil {
			t.Fatalf("partition %d: null record set", p.Partition)
		}
	}
	if got := recordBytes(resp); !slices.Equal(got, []int{400, 0, 0}) {
		t.Fatalf("record bytes %v", got)
	}
}

// A read_committed fetch (v4+) carries the last stable offset and the aborted
// transactions its replica lists, an empty list when there are none; a
// read_uncommitted one carries none (null).
func TestFetchAbortedTransactions(t *testing.T) {
	for _, isolation := range []int8{0, 1} {
		b := newFakeBroker(t)
		reps := hostOrders(b, 100)
		reps[0].hw, reps[0].lso = 50, 30
		reps[0].aborted = []partition.AbortedTxn{{ProducerID: 7, FirstOffset: 3}, {ProducerID: 9, FirstOffset: 12}}
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(12)
		req.ReplicaID, req.MaxBytes, req.MinBytes, req.SessionEpoch, req.IsolationLevel = -1, 1000, 1, -1, isolation
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "orders"
		for p := range int32(2) {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.CurrentLeaderEpoch, fp.PartitionMaxBytes = p, -1, 1000
			ft.Partitions = append(ft.Partitions, fp)
		}
		req.Topics = append(req.Topics, ft)
		r := &replies{t: t}
		Fetch(b, viaWire(t, req), r.reply)
		resp := fetched(t, r.one())
		checkWire(t, resp)
		ps := resp.Topics[0].Partitions
		if reps[0].fetches[0].Isolation != isolation {
			t.Fatalf("isolation %d read as %d", isolation, reps[0].fetches[0].Isolation)
		}
		if ps[0].LastStableOffset != 30 || ps[0].HighWatermark != 50 {
			t.Fatalf("isolation %d: high watermark %d, last stable offset %d", isolation, ps[0].HighWatermark, ps[0].LastStableOffset)
		}
		if isolation == 0 {
			if ps[0].AbortedTransactions != nil || ps[1].AbortedTransactions != nil {
				t.Fatalf("read_uncommitted got aborted transactions %+v", ps[0].AbortedTransactions)
			}
			continue
		}
		got := ps[0].AbortedTransactions
		if len(got) != 2 || got[0].ProducerID != 7 || got[0].FirstOffset != 3 || got[1].ProducerID != 9 || got[1].FirstOffset != 12 {
			t.Fatalf("aborted transactions %+v", got)
		}
		if ps[1].AbortedTransactions == nil || len(ps[1].AbortedTransactions) != 0 {
			t.Fatalf("partition without aborted transactions: %+v", ps[1].AbortedTransactions)
		}
	}
}

// A partition whose records the response's budget drops lists no aborted transactions
// (an empty list for read_committed): none overlaps what it returns.
func TestTrimToMaxBytesDropsAbortedList(t *testing.T) {
	aborted := func() []kmsg.FetchResponseTopicPartitionAbortedTransaction {
		a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		a.ProducerID, a.FirstOffset = 7, 3
		return []kmsg.FetchResponseTopicPartitionAbortedTransaction{a}
	}
	first := &fetchPart{recs: []disk.Span{{Len: 80}}, out: &kmsg.FetchResponseTopicPartition{AbortedTransactions: aborted()}}
	second := &fetchPart{recs: []disk.Span{{Len: 80}}, out: &kmsg.FetchResponseTopicPartition{AbortedTransactions: aborted()}}
	uncommitted := &fetchPart{recs: []disk.Span{{Len: 80}}, out: &kmsg.FetchResponseTopicPartition{}}
	trimToMaxBytes([]*fetchPart{first, second, uncommitted}, 100)
	if first.recs == nil || len(first.out.AbortedTransactions) != 1 {
		t.Fatalf("the first partition lost its records or aborted transactions: %+v", first.out.AbortedTransactions)
	}
	if second.recs != nil || second.out.AbortedTransactions == nil || len(second.out.AbortedTransactions) != 0 {
		t.Fatalf("a dropped partition lists %+v (records %v)", second.out.AbortedTransactions, second.recs)
	}
	if uncommitted.recs != nil || uncommitted.out.AbortedTransactions != nil {
		t.Fatalf("a read_uncommitted partition got a list %+v", uncommitted.out.AbortedTransactions)
	}
}

// A throttled fetch answers without records, so without aborted transactions.
func TestDropRecordsDropsAbortedList(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	topic := kmsg.NewFetchResponseTopic()
	p := kmsg.NewFetchResponseTopicPartition()
	p.RecordBatches = []byte{1, 2, 3}
	p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{kmsg.NewFetchResponseTopicPartitionAbortedTransaction()}
	topic.Partitions = append(topic.Partitions, p, kmsg.NewFetchResponseTopicPartition())
	resp.Topics = append(resp.Topics, topic)
	a := &FetchAnswer{FetchResponse: resp}
	a.DropRecords()
	ps := a.Topics[0].Partitions
	if len(ps[0].RecordBatches) != 0 || ps[0].AbortedTransactions == nil || len(ps[0].AbortedTransactions) != 0 {
		t.Fatalf("read_committed partition: records %v, aborted %+v", ps[0].RecordBatches, ps[0].AbortedTransactions)
	}
	if ps[1].AbortedTransactions != nil {
		t.Fatalf("read_uncommitted partition got a list %+v", ps[1].AbortedTransactions)
	}
}
