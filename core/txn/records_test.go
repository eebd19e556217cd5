package txn

import (
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func sampleRecords() []txnRecord {
	recs := []txnRecord{
		{pid: 1000, epoch: 0, timeoutMs: 60000, state: stateEmpty, updateMs: 5, startMs: -1},
		{pid: 7, epoch: 3, timeoutMs: 1, state: stateOngoing, parts: append(tps("a", 0, 2), tps("b", 1)...), updateMs: 9, startMs: 8},
		{pid: 7, epoch: 4, timeoutMs: 1, state: statePrepareAbort, parts: tps("__consumer_offsets", 49), updateMs: 10, startMs: 8},
		{pid: -1, epoch: 32767, timeoutMs: 900000, state: stateCompleteCommit, updateMs: 1 << 40, startMs: 1 << 40},
		// Version-2 transactions: value version 1 with its tagged fields.
		{pid: 7, epoch: 5, timeoutMs: 1, state: stateOngoing, parts: tps("a", 0, 2), updateMs: 9, startMs: 8, tv: 2},
		{pid: 7, epoch: 32767, timeoutMs: 1, state: statePrepareCommit, parts: tps("a", 0), updateMs: 9, startMs: 8, tv: 2, nextPid: 8},
		{pid: 8, epoch: 0, timeoutMs: 1, state: stateCompleteCommit, updateMs: 9, startMs: 8, tv: 2, prevPid: 7},
		{pid: 9, epoch: 1, timeoutMs: 1, state: stateEmpty, updateMs: 9, startMs: -1, tv: 2},
	}
	for i := range recs {
		if recs[i].tv < 2 || recs[i].prevPid == 0 {
			recs[i].prevPid = -1
		}
		if recs[i].tv < 2 || recs[i].nextPid == 0 {
			recs[i].nextPid = -1
		}
	}
	return recs
}

func TestRecordRoundTrip(t *testing.T) {
	for _, rec := range sampleRecords() {
		got, err := decodeValue(encodeValue(rec))
		if err != nil || !reflect.DeepEqual(got, rec) {
			t.Fatalf("round trip of %+v: %+v, %v", rec, got, err)
		}
	}
	id, known, err := decodeKey(encodeKey("tx-1"))
	if err != nil || !known || id != "tx-1" {
		t.Fatalf("key: %q %v %v", id, known, err)
	}
}

// TestRecordsAreKafkas: the records read and write as Kafka's TransactionLogKey and
// TransactionLogValue version 0, or 1 for a version-2 transaction (kmsg's
// TxnMetadataKey and TxnMetadataValue).
func TestRecordsAreKafkas(t *testing.T) {
	k := kmsg.TxnMetadataKey{Version: 0, TransactionalID: "tx-1"}
	if got, want := encodeKey("tx-1"), k.AppendTo(nil); !slices.Equal(got, want) {
		t.Fatalf("key %x, Kafka's %x", got, want)
	}
	for _, rec := range sampleRecords() {
		v := kmsg.NewTxnMetadataValue()
		v.Version = 0
		if rec.tv >= 2 {
			v.Version = 1
			v.PreviousProducerID, v.NextProducerID, v.ClientTransactionVersion = rec.prevPid, rec.nextPid, rec.tv
		}
		v.ProducerID, v.ProducerEpoch, v.TimeoutMillis = rec.pid, rec.epoch, rec.timeoutMs
		v.State = kmsg.TransactionState(rec.state)
		if rec.state != stateEmpty {
			v.Topics = []kmsg.TxnMetadataValueTopic{} // Kafka's null is for Empty only
		}
		for _, run := range topicRuns(rec.parts) {
			tp := kmsg.TxnMetadataValueTopic{Topic: run[0].Topic}
			for _, p := range run {
				tp.Partitions = append(tp.Partitions, p.Partition)
			}
			v.Topics = append(v.Topics, tp)
		}
		v.LastUpdateTimestamp, v.StartTimestamp = rec.updateMs, rec.startMs
		if got, want := encodeValue(rec), v.AppendTo(nil); !slices.Equal(got, want) {
			t.Fatalf("value of %+v:\n%x\nKafka's:\n%x", rec, got, want)
		}
		// And what Kafka writes reads back, an unknown tag (4.1's NextProducerEpoch) skipped.
		v.NextProducerEpoch = 3
		if got, err := decodeValue(v.AppendTo(nil)); err != nil || !reflect.DeepEqual(got, rec) {
			t.Fatalf("Kafka's value of %+v read as %+v, %v", rec, got, err)
		}
	}
}

func TestDecodeBounds(t *testing.T) {
	valid := encodeValue(sampleRecords()[1])
	bad := map[string][]byte{
		"empty":         nil,
		"version 2":     append([]byte{0, 2}, valid[2:]...),
		"state 8":       func() []byte { b := slices.Clone(valid); b[16] = 8; return b }(),
		"huge topics":   func() []byte { b := slices.Clone(valid); copy(b[17:], []byte{0x7f, 0xff, 0xff, 0xff}); return b }(),
		"negative":      func() []byte { b := slices.Clone(valid); copy(b[17:], []byte{0xff, 0xff, 0xff, 0xfe}); return b }(),
		"trailing byte": append(slices.Clone(valid), 0),
		"truncated":     valid[:len(valid)-1],
	}
	flex := encodeValue(sampleRecords()[4])
	bad["tag of the wrong size"] = append(slices.Clone(flex[:len(flex)-5]), 2, 3, 0, 0, 2)
	bad["tags out of order"] = append(slices.Clone(flex[:len(flex)-5]), 2, 2, 2, 0, 2, 1, 0)
	bad["huge compact topics"] = func() []byte { b := slices.Clone(flex); b[17] = 0x7f; return b }()
	for name, b := range bad {
		if _, err := decodeValue(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	long := txnRecord{state: stateOngoing, parts: tps(string(make([]byte, TopicBytesMax+1)), 0)}
	if _, err := decodeValue(encodeValue(long)); err == nil {
		t.Error("topic name above 249 bytes decoded")
	}
	many := txnRecord{state: stateOngoing}
	for i := range PartitionsMax + 1 {
		many.parts = append(many.parts, TopicPartition{"t", int32(i)})
	}
	if _, err := decodeValue(encodeValue(many)); err == nil {
		t.Errorf("%d partitions decoded", len(many.parts))
	}
	if _, _, err := decodeKey([]byte{0, 0, 0xff, 0xff}); err == nil {
		t.Error("null id decoded")
	}
	if _, known, err := decodeKey([]byte{0, 1, 0, 0}); known || err != nil {
		t.Errorf("key version 1: known %v err %v, want skipped", known, err)
	}
}
