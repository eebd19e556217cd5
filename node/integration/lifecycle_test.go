package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A compacted topic keeps every record however small its retention (its cleaner is held
// back here), while a topic with cleanup.policy=delete beside it loses its old segments; DeleteRecords on the compacted
// one is refused with POLICY_VIOLATION; and __consumer_offsets can be neither deleted
// nor grown.
func TestCompactedTopicsAndOffsetsTopicKeepTheirRecords(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"default.replication.factor":      "1",
		"min.insync.replicas":             "1",
		"log.retention.check.interval.ms": "200",
		"log.roll.ms":                     "100",
		"log.cleaner.backoff.ms":          "3600000",
	}})
	cl := c.client()
	c.waitBrokers(cl, 1)
	createWithConfigs(t, c, cl, "deleted", map[string]string{"cleanup.policy": "delete", "retention.ms": "1"})
	createWithConfigs(t, c, cl, "compacted", map[string]string{"cleanup.policy": "compact", "retention.ms": "1"})
	ctx := context.Background()
	for i := range 20 {
		for _, topic := range []string{"deleted", "compacted"} {
			r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "v%d", i)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce to %s: %v", topic, err)
			}
		}
		time.Sleep(30 * time.Millisecond) // segments roll by age: spread the records
	}
	c.eventually(30*time.Second, "retention of the delete topic", func() bool { return logStart(t, cl, "deleted") > 0 })
	time.Sleep(time.Second) // several more retention checks
	if start := logStart(t, cl, "compacted"); start != 0 {
		t.Fatalf("the compacted topic's log start moved to %d", start)
	}
	if n := len(readPartition(t, c.seeds(), "compacted", 0)); n != 20 {
		t.Fatalf("the compacted topic holds %d records, want 20", n)
	}

	del := kmsg.NewPtrDeleteRecordsRequest()
	del.TimeoutMillis = 5000
	del.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: "compacted", Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 5}}}}
	dresp, err := del.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := dresp.Topics[0].Partitions[0].ErrorCode; code != 44 {
		t.Fatalf("DeleteRecords on a compacted topic: code %d, want 44 (POLICY_VIOLATION)", code)
	}

	// Committing an offset creates __consumer_offsets.
	c.eventually(30*time.Second, "an offset commit", func() bool {
		commit := kmsg.NewPtrOffsetCommitRequest()
		commit.Group, commit.Generation = "g", -1
		commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "compacted", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 7}}}}
		resp, err := commit.RequestWith(ctx, cl)
		return err == nil && resp.Topics[0].Partitions[0].ErrorCode == 0
	})
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis = 5000
	dt.TopicNames = []string{"__consumer_offsets"}
	dt.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("__consumer_offsets")}}
	dtresp, err := dt.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := dtresp.Topics[0].ErrorCode; code != 42 {
		t.Fatalf("DeleteTopics __consumer_offsets: code %d, want 42 (INVALID_REQUEST)", code)
	}
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.TimeoutMillis = 5000
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "__consumer_offsets", Count: 60}}
	cpresp, err := cp.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := cpresp.Topics[0].ErrorCode; code != 42 {
		t.Fatalf("CreatePartitions __consumer_offsets: code %d, want 42 (INVALID_REQUEST)", code)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "g"
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "compacted", Partitions: []int32{0}}}
	fresp, err := fetch.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if got := fresp.Topics[0].Partitions[0].Offset; got != 7 {
		t.Fatalf("the committed offset reads back as %d, want 7", got)
	}
}

// A compacted topic written with 100 keys × 50 overwrites, the last write of ten keys a
// tombstone, compacts down to the latest value of each live key, each at the offset it
// was written at; the tombstones go once delete.retention.ms has passed. franz-go and
// kcat read the compacted log (and the empty batches left where whole batches went).
// A record without a key is refused with INVALID_RECORD. The cleaner works in steps of
// 4 KiB at 4 MiB/s.
func TestCompactionKeepsTheLatestValueOfEachKey(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"default.replication.factor": "1",
		"min.insync.replicas":        "1",
		"log.segment.bytes":          "16384",
		"log.roll.ms":                "300",
		"log.cleaner.backoff.ms":     "100",
		// Passes in many small steps, throttled: the other disk work runs between them.
		"log.cleaner.io.buffer.size":          "4096",
		"log.cleaner.io.max.bytes.per.second": "4194304",
	}})
	cl := c.client(kgo.ProducerLinger(0))
	c.waitBrokers(cl, 1)
	createWithConfigs(t, c, cl, "keyed", map[string]string{"cleanup.policy": "compact",
		"min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "1000", "segment.bytes": "16384"})
	ctx := context.Background()
	const keys, rounds, dead = 100, 50, 10
	latest := map[string]*kgo.Record{} // key -> its last write, offset included
	for round := range rounds {
		var batch []*kgo.Record
		for k := range keys {
			r := &kgo.Record{Topic: "keyed", Key: fmt.Appendf(nil, "k%03d", k), Value: fmt.Appendf(nil, "v%03d-%02d", k, round)}
			if round == rounds-1 && k < dead {
				r.Value = nil
			}
			batch = append(batch, r)
		}
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			t.Fatalf("produce round %d: %v", round, err)
		}
		for _, r := range batch {
			latest[string(r.Key)] = r
		}
	}
	// Roll the last overwrites out of the active segment, which is never cleaned.
	time.Sleep(400 * time.Millisecond)
	end := &kgo.Record{Topic: "keyed", Key: []byte("end"), Value: []byte("end")}
	if err := cl.ProduceSync(ctx, end).FirstErr(); err != nil {
		t.Fatal(err)
	}
	latest["end"] = end

	want := map[string]string{} // "key=value@offset" of every record that must stay
	for k, r := range latest {
		if r.Value != nil {
			want[k] = fmt.Sprintf("%s=%s@%d", k, r.Value, r.Offset)
		}
	}
	if len(want) != keys-dead+1 {
		t.Fatalf("%d live keys written", len(want))
	}
	var got []*kgo.Record
	c.eventually(60*time.Second, "compaction down to the live keys", func() bool {
		got = readPartition(t, c.seeds(), "keyed", 0)
		return len(got) == len(want)
	})
	for _, r := range got {
		if w := want[string(r.Key)]; w != fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Offset) {
			t.Fatalf("read %s=%s@%d, want %s", r.Key, r.Value, r.Offset, w)
		}
	}
	if start := logStart(t, cl, "keyed"); start != 0 {
		t.Fatalf("compaction moved the log start to %d", start)
	}

	bin := kcatPath(t)
	lines := lines(kcat(t, bin, "", "-b", strings.Join(c.seeds(), ","), "-C", "-t", "keyed", "-o", "beginning", "-e", "-q", "-f", "%k=%s@%o\n"))
	if len(lines) != len(want) {
		t.Fatalf("kcat read %d records, want %d", len(lines), len(want))
	}
	for _, line := range lines {
		k, _, _ := strings.Cut(line, "=")
		if want[k] != line {
			t.Fatalf("kcat read %s, want %s", line, want[k])
		}
	}

	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "keyed", Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("a record without a key: %v, want INVALID_RECORD", err)
	}
	m := scrape(c.procs[0].metricsAddr)
	if steps, bytes := m["seedlog_log_cleaner_steps_total"], m["seedlog_log_cleaner_io_bytes_total"]; steps < 2 || bytes/steps > 2*(16<<10) {
		t.Fatalf("the cleaner ran %v steps of %v bytes in all: want passes in steps of about 4 KiB", steps, bytes)
	}
}

// createWithConfigs creates a one-partition topic with configs and waits for its leader.
func createWithConfigs(t *testing.T, c *cluster, cl *kgo.Client, name string, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
	for k, v := range configs {
		rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(v)})
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %v %+v", name, err, resp)
	}
	c.eventually(30*time.Second, "a leader of "+name, func() bool {
		ps := c.partitions(cl, name)
		return len(ps) == 1 && ps[0].Leader >= 0
	})
}

// logStart returns partition 0's log start offset (ListOffsets earliest), -1 on error.
func logStart(t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: topic, Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -2, CurrentLeaderEpoch: -1}}}}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		return -1
	}
	return resp.Topics[0].Partitions[0].Offset
}

// On a LogAppendTime topic the broker's time replaces the producer's: a consumer sees
// the records stamped by the log, at the time the broker appended them.
func TestLogAppendTimeStampsTheBrokersTime(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{"default.replication.factor": "1", "min.insync.replicas": "1"}})
	cl := c.client()
	c.waitBrokers(cl, 1)
	createWithConfigs(t, c, cl, "stamped", map[string]string{"message.timestamp.type": "LogAppendTime"})
	old := time.Now().Add(-24 * time.Hour).Truncate(time.Millisecond)
	before := time.Now().Add(-time.Second) // the broker's clock is this machine's
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "stamped", Value: []byte("v"), Timestamp: old}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Second)
	recs := readPartition(t, c.seeds(), "stamped", 0)
	if len(recs) != 1 {
		t.Fatalf("read %d records", len(recs))
	}
	r := recs[0]
	if r.Attrs.TimestampType() != 1 || r.Timestamp.Before(before) || r.Timestamp.After(after) {
		t.Fatalf("record timestamp %v (type %d), want the broker's time between %v and %v", r.Timestamp, r.Attrs.TimestampType(), before, after)
	}
}

// An idle group's committed offset survives while another group commits long enough
// that __consumer_offsets (with small segments and an eager cleaner) is compacted over
// and over, and a restart that loads the group back from the compacted log.
func TestIdleGroupOffsetSurvivesCompaction(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"default.replication.factor":   "1",
		"min.insync.replicas":          "1",
		"offsets.topic.num.partitions": "1",
		"log.cleaner.backoff.ms":       "100",
	}})
	cl := c.client()
	c.waitBrokers(cl, 1)
	createWithConfigs(t, c, cl, "t", nil)
	ctx := context.Background()
	commit := func(group string, offset int64) bool {
		return commitOffsets(cl, group, "t", map[int32]int64{0: offset}) == nil
	}
	fetch := func(group string) int64 {
		got, err := fetchCommitted(cl, group, "t")
		if err != nil {
			return -2
		}
		return got[0]
	}
	c.eventually(30*time.Second, "the idle group's commit", func() bool { return commit("idle", 42) })

	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "__consumer_offsets"
	for k, v := range map[string]string{"segment.bytes": "2048", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"} {
		res.Configs = append(res.Configs, kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: k, Value: kmsg.StringPtr(v)})
	}
	alter.Resources = append(alter.Resources, res)
	aresp, err := alter.RequestWith(ctx, cl)
	if err != nil || aresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter __consumer_offsets: %v %+v", err, aresp)
	}
	const commits = 2000
	for i := range int64(commits) {
		if !commit("busy", i) {
			t.Fatalf("busy commit %d failed", i)
		}
	}
	c.eventually(60*time.Second, "__consumer_offsets compacted", func() bool {
		return len(readPartition(t, c.seeds(), "__consumer_offsets", 0)) < commits/10
	})
	if start := logStart(t, cl, "__consumer_offsets"); start != 0 {
		t.Fatalf("__consumer_offsets starts at %d", start)
	}
	cl.Close()
	c.stop(0)
	c.start(0)
	cl = c.client()
	c.eventually(30*time.Second, "the offsets loaded back", func() bool { return fetch("busy") == commits-1 })
	if got := fetch("idle"); got != 42 {
		t.Fatalf("the idle group's offset reads back as %d after compaction and a restart, want 42", got)
	}
}

// A topic's compression.type makes its leader store every batch in that codec, whatever
// the producer sent; a codec Kafka does not know is refused with INVALID_CONFIG.
func TestCompressionTypeRecompresses(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{"default.replication.factor": "1", "min.insync.replicas": "1"}})
	plain := c.client(kgo.ProducerBatchCompression(kgo.NoCompression()))
	c.waitBrokers(plain, 1)
	createWithConfigs(t, c, plain, "zipped", map[string]string{"compression.type": "zstd"})
	ctx := context.Background()
	for i := range 20 {
		if err := plain.ProduceSync(ctx, &kgo.Record{Topic: "zipped", Value: fmt.Appendf(nil, "value %d %s", i, strings.Repeat("x", 200))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	recs := readPartition(t, c.seeds(), "zipped", 0)
	if len(recs) != 20 {
		t.Fatalf("read %d records, want 20", len(recs))
	}
	for _, r := range recs {
		if codec := r.Attrs.CompressionType(); codec != 4 {
			t.Fatalf("record at %d in a batch with codec %d, want 4 (zstd)", r.Offset, codec)
		}
		if !strings.HasPrefix(string(r.Value), "value ") {
			t.Fatalf("record at %d reads %q", r.Offset, r.Value)
		}
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "bad", 1, 1
	rt.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "compression.type", Value: kmsg.StringPtr("brotli")}}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, plain)
	if err != nil || resp.Topics[0].ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("compression.type=brotli: %v %+v, want INVALID_CONFIG", err, resp)
	}
}

// Retention by size and by time moves a topic's log start while a producer keeps
// writing: whole segments go (the topic's own segment.bytes rolls them), the start only
// rises, and everything above it reads back in order.
func TestRetentionMovesTheLogStartUnderLoad(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"default.replication.factor":      "1",
		"min.insync.replicas":             "1",
		"log.retention.check.interval.ms": "100",
	}})
	cl := c.client(kgo.ProducerLinger(0))
	c.waitBrokers(cl, 1)
	createWithConfigs(t, c, cl, "by-size", map[string]string{"retention.bytes": "8192", "segment.bytes": "2048"})
	createWithConfigs(t, c, cl, "by-time", map[string]string{"retention.ms": "500", "segment.ms": "100"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	produced := make(chan error, 1)
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			for _, topic := range []string{"by-size", "by-time"} {
				err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%08d %s", i, strings.Repeat("x", 100))}).FirstErr()
				if err != nil && ctx.Err() == nil {
					produced <- err
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		produced <- nil
	}()
	for _, topic := range []string{"by-size", "by-time"} {
		var last int64
		c.eventually(30*time.Second, "retention of "+topic+" under load", func() bool {
			start := logStart(t, cl, topic)
			if start < last {
				t.Fatalf("%s: the log start went back from %d to %d", topic, last, start)
			}
			last = start
			return start > 50
		})
	}
	cancel()
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	for _, topic := range []string{"by-size", "by-time"} {
		start := logStart(t, cl, topic)
		recs := readPartition(t, c.seeds(), topic, 0) // from the log start, as a reset consumer
		if len(recs) == 0 || recs[0].Offset < start {
			t.Fatalf("%s: read %d records from below the log start %d", topic, len(recs), start)
		}
		for i, r := range recs {
			if want := recs[0].Offset + int64(i); r.Offset != want {
				t.Fatalf("%s: record %d read at offset %d, want %d", topic, i, r.Offset, want)
			}
		}
	}
}

// message.timestamp.before.max.ms and after.max.ms refuse CreateTime records stamped too
// far from the leader's clock with INVALID_TIMESTAMP, and take the rest.
func TestTimestampBoundsRefuseFarRecords(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{"default.replication.factor": "1", "min.insync.replicas": "1"}})
	cl := c.client()
	c.waitBrokers(cl, 1)
	createWithConfigs(t, c, cl, "bounded", map[string]string{"message.timestamp.before.max.ms": "60000", "message.timestamp.after.max.ms": "60000"})
	ctx := context.Background()
	for _, tc := range []struct {
		at   time.Time
		want error
	}{
		{time.Now(), nil},
		{time.Now().Add(-time.Hour), kerr.InvalidTimestamp},
		{time.Now().Add(time.Hour), kerr.InvalidTimestamp},
	} {
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: "bounded", Value: []byte("v"), Timestamp: tc.at}).FirstErr()
		if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Fatalf("a record stamped %v: %v, want %v", time.Until(tc.at).Round(time.Second), err, tc.want)
		}
	}
	if recs := readPartition(t, c.seeds(), "bounded", 0); len(recs) != 1 {
		t.Fatalf("the topic holds %d records, want the one in bounds", len(recs))
	}
}
