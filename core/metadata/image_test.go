package metadata

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestZeroImage(t *testing.T) {
	var im Image
	if im.Offset() != -1 || len(im.Brokers()) != 0 || len(im.Topics()) != 0 || !im.IsFenced(0) {
		t.Fatal("zero image is not empty")
	}
	if _, ok := im.Partition(topicT, 0); ok {
		t.Fatal("partition in empty image")
	}
	if !Equal(im, mustDecodeSnapshot(t, im.EncodeSnapshot())) {
		t.Fatal("empty snapshot round trip")
	}
}

func TestPartitionChangeEpochs(t *testing.T) {
	im := baseImage(t)
	p0 := func(im Image) PartitionState { ps, _ := im.Partition(topicT, 0); return ps }
	start := p0(im)

	im = mustApply(t, im, PartitionChange{TopicID: topicT, Partition: 0, ISR: []int32{1}, Leader: LeaderUnchanged})
	if got := p0(im); got.LeaderEpoch != start.LeaderEpoch || got.PartitionEpoch != start.PartitionEpoch+1 || !slices.Equal(got.ISR, []int32{1}) {
		t.Fatalf("ISR shrink: %+v", got)
	}
	im = mustApply(t, im, PartitionChange{TopicID: topicT, Partition: 0, Leader: NoLeader})
	if got := p0(im); got.Leader != NoLeader || got.LeaderEpoch != start.LeaderEpoch+1 || got.PartitionEpoch != start.PartitionEpoch+2 {
		t.Fatalf("to no leader: %+v", got)
	}
	im = mustApply(t, im, PartitionChange{TopicID: topicT, Partition: 0, Leader: 1})
	if got := p0(im); got.Leader != 1 || got.LeaderEpoch != start.LeaderEpoch+2 || got.PartitionEpoch != start.PartitionEpoch+3 {
		t.Fatalf("from no leader: %+v", got)
	}
}

// A reassignment's records set the replica lists and move the epochs like a
// PartitionChange; a moving partition survives a snapshot round trip.
func TestReassignRecords(t *testing.T) {
	im := baseImage(t)
	p1 := func(im Image) PartitionState { ps, _ := im.Partition(topicT, 1); return ps }
	start := p1(im)
	im = mustApply(t, im, Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{1, 3, 2}, Adding: []int32{1}, Removing: []int32{2}, Leader: LeaderUnchanged})
	got := p1(im)
	if !got.Moving() || !slices.Equal(got.Target(), []int32{1, 3}) || got.PartitionEpoch != start.PartitionEpoch+1 || got.LeaderEpoch != start.LeaderEpoch {
		t.Fatalf("started: %+v", got)
	}
	checkReplicaCounts(t, im) // broker 1, being added, counts
	if !Equal(im, mustDecodeSnapshot(t, im.EncodeSnapshot())) {
		t.Fatal("snapshot round trip of a moving partition")
	}
	im = mustApply(t, im, PartitionChange{TopicID: topicT, Partition: 1, ISR: []int32{2, 1}, Leader: 1})
	im = mustApply(t, im, Reassign{TopicID: topicT, Partition: 1, Replicas: []int32{1, 3}, ISR: []int32{1}, Leader: LeaderUnchanged})
	got = p1(im)
	if got.Moving() || !slices.Equal(got.Replicas, []int32{1, 3}) || got.Leader != 1 || got.LeaderEpoch != start.LeaderEpoch+1 {
		t.Fatalf("finished: %+v", got)
	}
	if on2 := im.PartitionsReplicatedOn(2); len(on2) != 1 || on2[0].Partition != 0 {
		t.Fatalf("broker 2 holds %v, want partition 0 only", on2)
	}
}

// checkReplicaCounts compares ReplicaCounts with PartitionsReplicatedOn, broker by
// broker.
func checkReplicaCounts(t *testing.T, im Image) {
	t.Helper()
	counts := im.ReplicaCounts()
	for _, id := range []int32{1, 2, 3, 4} {
		if want := len(im.PartitionsReplicatedOn(id)); counts[id] != want {
			t.Fatalf("broker %d: ReplicaCounts says %d, PartitionsReplicatedOn %d", id, counts[id], want)
		}
	}
}

func TestCatchUpOffset(t *testing.T) {
	im := baseImage(t)
	b1, _ := im.Broker(1)
	if b1.CatchUpOffset != b1.Epoch {
		t.Fatalf("fresh broker: catch-up %d, epoch %d", b1.CatchUpOffset, b1.Epoch)
	}
	// Taking leadership from broker 1 raises its catch-up offset to that record.
	im = mustApply(t, im, PartitionChange{TopicID: topicT, Partition: 0, Leader: 2})
	if b1, _ = im.Broker(1); b1.CatchUpOffset != im.Offset() {
		t.Fatalf("after losing leadership: %d, want %d", b1.CatchUpOffset, im.Offset())
	}
	// Gaining leadership does not.
	b2before, _ := im.Broker(2)
	im = mustApply(t, im, PartitionChange{TopicID: topicT, Partition: 0, ISR: []int32{2}, Leader: LeaderUnchanged})
	if b2, _ := im.Broker(2); b2.CatchUpOffset != b2before.CatchUpOffset {
		t.Fatal("ISR change moved the leader's catch-up offset")
	}
	im = mustApply(t, im, FenceBroker{BrokerID: 2, BrokerEpoch: 1})
	if b2, _ := im.Broker(2); !b2.Fenced || b2.CatchUpOffset != im.Offset() {
		t.Fatalf("fence: %+v", b2)
	}
}

func TestAccessorsSortedAndCopied(t *testing.T) {
	im := baseImage(t)
	im = mustApply(t, im,
		RegisterBroker{BrokerID: 0},
		Topic{Name: "a", ID: topicU},
		Partition{TopicID: topicU, Partition: 0, Replicas: []int32{2}, ISR: []int32{2}, Leader: 2},
		Config{Resource: ConfigTopic, Name: "t", Key: "cleanup.policy", Value: "compact"},
	)
	var ids []int32
	for _, b := range im.Brokers() {
		ids = append(ids, b.ID)
	}
	if !slices.Equal(ids, []int32{0, 1, 2, 3}) {
		t.Fatalf("brokers %v", ids)
	}
	if ts := im.Topics(); len(ts) != 2 || ts[0].Name != "a" || ts[1].Name != "t" || ts[1].Partitions != 2 {
		t.Fatalf("topics %+v", ts)
	}
	led := im.PartitionsLedBy(2)
	want := []TopicPartition{{"a", topicU, 0}, {"t", topicT, 1}}
	if !reflect.DeepEqual(led, want) {
		t.Fatalf("led by 2: %+v", led)
	}
	if on := im.PartitionsReplicatedOn(3); len(on) != 2 || on[0].Partition != 0 || on[1].Partition != 1 {
		t.Fatalf("replicated on 3: %+v", on)
	}
	if cfg := im.TopicConfig("t"); len(cfg) != 2 || cfg[0].Key != "cleanup.policy" || cfg[1].Key != "retention.ms" {
		t.Fatalf("config %+v", cfg)
	}
	if l, e, ok := im.LeaderOf(topicT, 0); !ok || l != 1 || e != 0 {
		t.Fatalf("leader of t-0: %d %d %v", l, e, ok)
	}
	// Mutating what an accessor returned must not reach the image.
	ps, _ := im.Partition(topicT, 0)
	ps.ISR[0] = 99
	all := im.Partitions(topicT)
	all[0].Replicas[0] = 99
	b, _ := im.Broker(1)
	b.Listeners[0].Host = "x"
	if ps2, _ := im.Partition(topicT, 0); ps2.ISR[0] != 1 || ps2.Replicas[0] != 1 {
		t.Fatal("accessor exposed internal slices")
	}
	if b1, _ := im.Broker(1); b1.Listeners[0].Host != "h1" {
		t.Fatal("accessor exposed listeners")
	}
}

func TestResolveTopicConfig(t *testing.T) {
	im := baseImage(t)
	check := func(key, want string, src ConfigSource) {
		t.Helper()
		v, s, ok := im.ResolveTopicConfig("t", key, nil)
		if !ok || v != want || s != src {
			t.Fatalf("%s = %q (source %d, ok %v), want %q (%d)", key, v, s, ok, want, src)
		}
	}
	check("retention.ms", "1", SourceTopic)
	check("flush.mode", "sync", SourceDefault)
	im = mustApply(t, im, Config{Resource: ConfigBroker, Name: "", Key: "log.flush", Value: "async"})
	check("flush.mode", "async", SourceClusterDefault)
	if _, _, ok := im.ResolveTopicConfig("t", "no.such.key", nil); ok {
		t.Fatal("unknown key resolved")
	}
}

// A broker's static setting sits between the cluster-wide default and the table
// default: it applies to a topic that sets nothing above it, and the chain lists every
// source with a value, most specific first.
func TestTopicConfigChain(t *testing.T) {
	im := mustApply(t, baseImage(t),
		Config{Resource: ConfigBroker, Name: "", Key: "log.retention.ms", Value: "5000"})
	static := StaticConfig{{Key: "log.retention.ms", Value: "7000"}, {Key: "min.insync.replicas", Value: "2"}}
	render := func(chain []ConfigValue) string {
		var out []string
		for _, c := range chain {
			out = append(out, fmt.Sprintf("%s=%s@%d", c.Name, c.Value, c.Source))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		key, chain, value string
		source            ConfigSource
	}{
		{"retention.ms", "retention.ms=1@1 log.retention.ms=5000@3 log.retention.ms=7000@4 log.retention.ms=604800000@5", "1", SourceTopic},
		{"min.insync.replicas", "min.insync.replicas=2@4 min.insync.replicas=1@5", "2", SourceStatic},
		{"flush.mode", "log.flush=sync@5", "sync", SourceDefault},
	} {
		chain, ok := im.TopicConfigChain("t", tc.key, static)
		if !ok || render(chain) != tc.chain {
			t.Errorf("%s: chain %q (ok %v), want %q", tc.key, render(chain), ok, tc.chain)
		}
		v, src, _ := im.ResolveTopicConfig("t", tc.key, static)
		if v != tc.value || src != tc.source || chain[0].Value != v || chain[0].Source != src {
			t.Errorf("%s resolves to %s@%d, want %s@%d, the chain's first", tc.key, v, src, tc.value, tc.source)
		}
	}
	if chain, _ := im.BrokerConfigChain("log.retention.ms", static); render(chain) != "log.retention.ms=5000@3 log.retention.ms=7000@4 log.retention.ms=604800000@5" {
		t.Errorf("broker chain %q", render(chain))
	}
	if _, ok := im.TopicConfigChain("t", "no.such.key", static); ok {
		t.Error("unknown key has a chain")
	}
}

func TestStaticConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		static StaticConfig
		bad    string
	}{
		{StaticConfig{{Key: "log.retention.ms", Value: "7000"}, {Key: "min.insync.replicas", Value: "2"}}, ""},
		{StaticConfig{{Key: "retention.ms", Value: "7000"}}, "not the broker-level key"},
		{StaticConfig{{Key: "min.insync.replicas", Value: "0"}}, "below the minimum"},
		{StaticConfig{{Key: "min.insync.replicas", Value: "2"}, {Key: "log.retention.ms", Value: "7000"}}, "sorted"},
		{StaticConfig{{Key: "log.flush", Value: "sync"}, {Key: "log.flush", Value: "sync"}}, "set once"},
	} {
		err := tc.static.Check()
		if (err == nil) != (tc.bad == "") || (err != nil && !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%v: %v, want %q", tc.static, err, tc.bad)
		}
	}
}

func TestConfigTable(t *testing.T) {
	defs := TopicConfigDefs()
	if !slices.IsSortedFunc(defs, func(a, b ConfigDef) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	}) {
		t.Fatal("table not sorted")
	}
	for _, d := range defs {
		if err := d.Check(d.Default); err != nil {
			t.Errorf("default of %s rejected: %v", d.Name, err)
		}
		if bd, ok := BrokerConfigDef(d.BrokerName); !ok || bd.Name != d.Name {
			t.Errorf("broker key %s does not map back to %s", d.BrokerName, d.Name)
		}
	}
	bad := map[string]string{
		"min.insync.replicas":            "0",
		"retention.ms":                   "-2",
		"segment.bytes":                  "4294967296",
		"cleanup.policy":                 "delete,shred",
		"message.timestamp.type":         "Now",
		"flush.mode":                     "maybe",
		"unclean.leader.election.enable": "true",
		"max.message.bytes":              "lots",
	}
	for k, v := range bad {
		d, _ := TopicConfigDef(k)
		if err := d.Check(v); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
	d, _ := TopicConfigDef("cleanup.policy")
	if err := d.Check("compact, delete"); err != nil {
		t.Errorf("list rejected: %v", err)
	}
}

// Apply must leave its receiver intact, and two images derived from one base must not
// see each other's changes (the classic shared-backing-array bug with append).
func TestStructuralSharing(t *testing.T) {
	base := baseImage(t)
	snap := base.EncodeSnapshot()
	derive := func(recs ...Record) Image { return mustApply(t, base, recs...) }

	a := derive(Partition{TopicID: topicT, Partition: 2, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1})
	b := derive(Partition{TopicID: topicT, Partition: 2, Replicas: []int32{2}, ISR: []int32{2}, Leader: 2})
	if pa, _ := a.Partition(topicT, 2); pa.Leader != 1 {
		t.Fatalf("sibling image overwrote partition: %+v", pa)
	}
	if pb, _ := b.Partition(topicT, 2); pb.Leader != 2 {
		t.Fatalf("partition %+v", pb)
	}
	derive(PartitionChange{TopicID: topicT, Partition: 0, Leader: 2})
	derive(RemoveTopic{TopicID: topicT})
	derive(Config{Resource: ConfigTopic, Name: "t", Key: "retention.ms", Delete: true})
	derive(Config{Resource: ConfigBroker, Name: "1", Key: "k", Value: "v"})
	derive(FenceBroker{BrokerID: 1, BrokerEpoch: 0})
	derive(Topic{Name: "u", ID: topicU}, Partition{TopicID: topicU, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1})
	if string(base.EncodeSnapshot()) != string(snap) {
		t.Fatal("deriving images changed the base")
	}
}

// A partition change must not copy other topics' state: the untouched topic's
// partition slice is the very same array in both images.
func TestPartitionChangeSharesOtherTopics(t *testing.T) {
	im := mustApply(t, baseImage(t), Topic{Name: "u", ID: topicU},
		Partition{TopicID: topicU, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1})
	next := mustApply(t, im, PartitionChange{TopicID: topicT, Partition: 0, Leader: 2})
	if &im.topic(topicU).partitions[0] != &next.topic(topicU).partitions[0] {
		t.Fatal("untouched topic was copied")
	}
	if &im.topic(topicT).partitions[0] == &next.topic(topicT).partitions[0] {
		t.Fatal("changed topic shares its partition array")
	}
	if reflect.ValueOf(im.topicIDs).Pointer() != reflect.ValueOf(next.topicIDs).Pointer() {
		t.Fatal("a partition change copied the topic name index")
	}
}

func TestApplyBatchAllOrNothing(t *testing.T) {
	im := baseImage(t)
	entries := []Entry{
		{im.Offset() + 1, Topic{Name: "u", ID: topicU}},
		{im.Offset() + 2, Partition{TopicID: topicU, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}},
		{im.Offset() + 3, Partition{TopicID: topicU, Partition: 5, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}},
	}
	got, err := im.ApplyBatch(entries)
	if err == nil || !Equal(got, im) {
		t.Fatalf("bad batch: err %v", err)
	}
	if _, ok := im.Topic("u"); ok {
		t.Fatal("failed batch leaked into the base")
	}
	got, err = im.ApplyBatch(entries[:2])
	if err != nil || got.Offset() != im.Offset()+2 {
		t.Fatalf("good batch: %v", err)
	}
	one := mustApply(t, im, entries[0].Record, entries[1].Record)
	if !Equal(got, one) {
		t.Fatal("batch and one-by-one differ")
	}
}

func mustDecodeSnapshot(t testing.TB, b []byte) Image {
	t.Helper()
	im, err := DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	return im
}
