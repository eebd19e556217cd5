package metadata

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/sasl"

	"pgregory.net/rapid"
)

func TestSnapshotRoundTrip(t *testing.T) {
	im := mustApply(t, baseImage(t),
		Config{Resource: ConfigBroker, Name: "", Key: "log.flush", Value: "async"},
		Config{Resource: ConfigBroker, Name: "2", Key: "log.retention.ms", Value: "5"},
		FenceBroker{BrokerID: 2, BrokerEpoch: 1},
		sampleScram("carol", sasl.ScramSHA256),
		sampleScram("carol", sasl.ScramSHA512),
		sampleScram("alice", sasl.ScramSHA512),
		Acl{sampleBinding("User:a", "orders", acl.PatternLiteral)},
		Acl{sampleBinding("User:b", "ord", acl.PatternPrefixed)},
		Acl{sampleBinding("User:a", "*", acl.PatternLiteral)},
		ClientQuota{Entity: QuotaEntity{HasUser: true, User: "alice"}, Key: QuotaProducerByteRate, Value: 1024},
		ClientQuota{Entity: QuotaEntity{HasUser: true, User: "alice"}, Key: QuotaRequestPercentage, Value: 12.5},
		ClientQuota{Entity: QuotaEntity{HasClientID: true}, Key: QuotaConsumerByteRate, Value: 2048},
		ClientQuota{Entity: QuotaEntity{HasUser: true, HasClientID: true, ClientID: "c"}, Key: QuotaProducerByteRate, Value: 1},
	)
	b := im.EncodeSnapshot()
	got := mustDecodeSnapshot(t, b)
	if !Equal(got, im) {
		t.Fatal("snapshot round trip differs")
	}
	// Equal sees a difference of one field.
	if Equal(im, mustApply(t, im, UnfenceBroker{BrokerID: 2, BrokerEpoch: 1})) {
		t.Fatal("Equal missed a change")
	}
	// The decoded image works like the original.
	next1 := mustApply(t, im, PartitionChange{TopicID: topicT, Partition: 1, Leader: NoLeader})
	next2 := mustApply(t, got, PartitionChange{TopicID: topicT, Partition: 1, Leader: NoLeader})
	if !Equal(next1, next2) {
		t.Fatal("decoded image applies differently")
	}
}

func TestDecodeSnapshotRejects(t *testing.T) {
	good := baseImage(t).EncodeSnapshot()
	cases := map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, good[1:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(slices.Clone(good), 0),
	}
	// Content with nothing applied: a broker in an image at offset -1.
	noOffset := slices.Clone(good)
	copy(noOffset[1:9], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	cases["content at offset -1"] = noOffset
	for name, b := range cases {
		if _, err := DecodeSnapshot(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// Snapshots written before credentials existed (version 1, which ends after the broker
// configs) and before reassignments (version 2) still decode.
func TestDecodeOlderSnapshots(t *testing.T) {
	im := baseImage(t)
	for _, v := range []uint8{1, 2} {
		b := im.encodeSnapshot(v)
		if b[0] != v || len(b) >= len(im.EncodeSnapshot()) {
			t.Fatalf("version %d: %d bytes, want fewer than the current version's", v, len(b))
		}
		got := mustDecodeSnapshot(t, b)
		if !Equal(got, im) {
			t.Fatalf("a version %d snapshot decodes differently", v)
		}
	}
}

// Credentials: set, replaced, removed; removal of an absent one and bad fields refused.
func TestScramRecords(t *testing.T) {
	im := mustApply(t, baseImage(t), sampleScram("dave", sasl.ScramSHA256))
	first, ok := im.ScramCredential("dave", sasl.ScramSHA256)
	if !ok {
		t.Fatal("credential not stored")
	}
	again := sampleScram("dave", sasl.ScramSHA256)
	again.Salt = []byte("another salt")
	im = mustApply(t, im, again)
	if c, _ := im.ScramCredential("dave", sasl.ScramSHA256); string(c.Salt) == string(first.Salt) {
		t.Fatal("credential not replaced")
	}
	im = mustApply(t, im, RemoveScram{User: "dave", Mechanism: sasl.ScramSHA256})
	if _, ok := im.ScramCredential("dave", sasl.ScramSHA256); ok || len(im.ScramKeys()) != 0 {
		t.Fatal("credential not removed")
	}
	bad := map[string]Record{
		"absent removal": RemoveScram{User: "dave", Mechanism: sasl.ScramSHA256},
	}
	for name, f := range map[string]func(*ScramCredential){
		"empty user":     func(r *ScramCredential) { r.User = "" },
		"control char":   func(r *ScramCredential) { r.User = "a\nb" },
		"mechanism":      func(r *ScramCredential) { r.Mechanism = 3 },
		"few iterations": func(r *ScramCredential) { r.Iterations = 4095 },
		"no salt":        func(r *ScramCredential) { r.Salt = nil },
		"short key":      func(r *ScramCredential) { r.StoredKey = r.StoredKey[:5] },
	} {
		r := sampleScram("erin", sasl.ScramSHA512)
		f(&r)
		bad[name] = r
	}
	for name, rec := range bad {
		if err := Validate(im, rec); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func sampleBinding(principal, name string, p acl.PatternType) acl.Binding {
	return acl.Binding{Resource: acl.Resource{Type: acl.ResourceTopic, Name: name, Pattern: p},
		Entry: acl.Entry{Principal: principal, Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow}}
}

// Bindings are stored once, indexed for authorization (literal, wildcard and every
// prefix of a name), and removed.
func TestAclRecords(t *testing.T) {
	lit, pre, wild := sampleBinding("User:a", "orders", acl.PatternLiteral), sampleBinding("User:a", "or", acl.PatternPrefixed),
		sampleBinding("User:b", "*", acl.PatternLiteral)
	other := sampleBinding("User:a", "logs", acl.PatternLiteral)
	im := mustApply(t, baseImage(t), Acl{lit}, Acl{lit}, Acl{pre}, Acl{wild}, Acl{other})
	if im.AclCount() != 4 {
		t.Fatalf("%d bindings, want 4", im.AclCount())
	}
	var seen []acl.Binding
	im.AclBindings(acl.ResourceTopic, "orders", func(b acl.Binding) { seen = append(seen, b) })
	if len(seen) != 3 || slices.Contains(seen, other) {
		t.Fatalf("bindings covering orders: %v", seen)
	}
	im = mustApply(t, im, RemoveAcl{pre})
	seen = nil
	im.AclBindings(acl.ResourceTopic, "orders", func(b acl.Binding) { seen = append(seen, b) })
	if len(seen) != 2 || im.HasAcl(pre) {
		t.Fatalf("after removal: %v", seen)
	}
	if err := Validate(im, RemoveAcl{pre}); err == nil {
		t.Fatal("removal of an absent binding accepted")
	}
	bad := lit
	bad.Pattern = acl.PatternMatch
	if err := Validate(im, Acl{bad}); err == nil {
		t.Fatal("a MATCH pattern stored")
	}
}

// Hand-built snapshots that break an invariant Apply would never allow.
func TestDecodeSnapshotChecksInvariants(t *testing.T) {
	im := baseImage(t)
	mutate := map[string]func(im *Image){
		"leader outside ISR": func(im *Image) { im.topic(topicT).partitions[0].Leader = 3 },
		"leader unregistered": func(im *Image) {
			ps := &im.topic(topicT).partitions[0]
			ps.Replicas, ps.ISR, ps.Leader = []int32{9}, []int32{9}, 9
		},
		"ISR outside replicas":   func(im *Image) { im.topic(topicT).partitions[1].ISR = []int32{2, 1} },
		"duplicate replicas":     func(im *Image) { im.topic(topicT).partitions[1].Replicas = []int32{2, 2} },
		"empty ISR":              func(im *Image) { im.topic(topicT).partitions[1].ISR = nil },
		"negative epoch":         func(im *Image) { im.topic(topicT).partitions[1].LeaderEpoch = -3 },
		"bad topic name":         func(im *Image) { im.topic(topicT).name = "a b"; im.topicIDs = map[string][16]byte{"a b": topicT} },
		"catch-up beyond offset": func(im *Image) { im.brokers[1].CatchUpOffset = im.Offset() + 1 },
		"catch-up below epoch":   func(im *Image) { im.brokers[2].CatchUpOffset = 0 },
		"negative producer id":   func(im *Image) { im.nextProducerID = -1 },
		"bad broker resource":    func(im *Image) { im.brokerConfigs = map[string]map[string]string{"x": {"k": "v"}} },
		"bad quota": func(im *Image) {
			im.quotas = map[QuotaEntity]map[string]float64{{HasUser: true, User: "u"}: {QuotaProducerByteRate: 0.5}}
		},
		"quota without entity": func(im *Image) {
			im.quotas = map[QuotaEntity]map[string]float64{{}: {QuotaProducerByteRate: 5}}
		},
		"bad credential": func(im *Image) {
			im.scram = map[ScramKey]sasl.Credential{{"u", sasl.ScramSHA256}: {Salt: []byte("s"), Iterations: 4096}}
		},
	}
	for name, f := range mutate {
		// Work on a decoded copy so the mutation cannot touch shared structures.
		c := mustDecodeSnapshot(t, im.EncodeSnapshot())
		f(&c)
		if _, err := DecodeSnapshot(c.EncodeSnapshot()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(Image{}.EncodeSnapshot())
	f.Add(baseImage(f).EncodeSnapshot())
	f.Add(mustApply(f, baseImage(f), Config{Resource: ConfigBroker, Name: "", Key: "k", Value: "v"}).EncodeSnapshot())
	f.Add(mustApply(f, baseImage(f), sampleScram("u", sasl.ScramSHA256), sampleScram("v", sasl.ScramSHA512),
		Acl{sampleBinding("User:a", "t", acl.PatternPrefixed)}).EncodeSnapshot())
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		again, err := DecodeSnapshot(im.EncodeSnapshot())
		if err != nil || !Equal(again, im) {
			t.Fatalf("re-encoding a decoded snapshot: %v", err)
		}
		// A decoded image must stay usable: accessors and Apply must not panic.
		_ = im.Topics()
		for _, b := range im.Brokers() {
			_ = im.PartitionsLedBy(b.ID)
			_, _ = im.Apply(im.Offset()+1, FenceBroker{BrokerID: b.ID, BrokerEpoch: b.Epoch})
		}
	})
}

// genRecord draws a record that is usually valid for im and sometimes not.
func genRecord(t *rapid.T, im Image) Record {
	brokers := im.Brokers()
	topics := im.Topics()
	pickBroker := func() Broker { return brokers[rapid.IntRange(0, len(brokers)-1).Draw(t, "broker")] }
	pickTopic := func() TopicInfo { return topics[rapid.IntRange(0, len(topics)-1).Draw(t, "topic")] }
	ids := func() []int32 {
		var out []int32
		for _, b := range brokers {
			out = append(out, b.ID)
		}
		return out
	}
	kind := rapid.IntRange(0, 12).Draw(t, "kind")
	switch {
	case kind == 0 || len(brokers) == 0:
		return RegisterBroker{BrokerID: rapid.Int32Range(0, 5).Draw(t, "id"),
			Incarnation: [16]byte{rapid.Byte().Draw(t, "inc")}, Rack: rapid.SampledFrom([]string{"", "a", "b"}).Draw(t, "rack")}
	case kind == 1:
		b := pickBroker()
		return FenceBroker{BrokerID: b.ID, BrokerEpoch: b.Epoch}
	case kind == 2:
		b := pickBroker()
		return UnfenceBroker{BrokerID: b.ID, BrokerEpoch: b.Epoch}
	case kind == 3:
		b := pickBroker()
		return UnregisterBroker{BrokerID: b.ID, BrokerEpoch: b.Epoch}
	case kind == 4 || len(topics) == 0:
		return Topic{Name: rapid.SampledFrom([]string{"a", "b", "c", "d"}).Draw(t, "name"),
			ID: [16]byte{rapid.Byte().Draw(t, "tid"), 1}}
	case kind == 5 || kind == 6:
		tp := pickTopic()
		reps := rapid.SliceOfNDistinct(rapid.SampledFrom(ids()), 1, 3, rapid.ID[int32]).Draw(t, "replicas")
		isr := reps[:rapid.IntRange(1, len(reps)).Draw(t, "isrLen")]
		leader := rapid.SampledFrom(append([]int32{NoLeader}, isr...)).Draw(t, "leader")
		return Partition{TopicID: tp.ID, Partition: tp.Partitions, Replicas: reps, ISR: isr, Leader: leader}
	case kind <= 9:
		tp := pickTopic()
		if tp.Partitions == 0 {
			return RemoveTopic{TopicID: tp.ID}
		}
		p := rapid.Int32Range(0, tp.Partitions-1).Draw(t, "p")
		ps, _ := im.Partition(tp.ID, p)
		pc := PartitionChange{TopicID: tp.ID, Partition: p, Leader: LeaderUnchanged}
		isr := ps.ISR
		if rapid.Bool().Draw(t, "changeISR") {
			isr = rapid.SliceOfNDistinct(rapid.SampledFrom(ps.Replicas), 1, len(ps.Replicas), rapid.ID[int32]).Draw(t, "isr")
			pc.ISR = isr
		}
		if rapid.Bool().Draw(t, "changeLeader") {
			pc.Leader = rapid.SampledFrom(append([]int32{NoLeader}, isr...)).Draw(t, "newLeader")
		}
		return pc
	case kind == 10:
		return RemoveTopic{TopicID: pickTopic().ID}
	case kind == 11:
		c := Config{Key: rapid.SampledFrom([]string{"retention.ms", "segment.ms"}).Draw(t, "key"),
			Value: fmt.Sprint(rapid.IntRange(0, 9).Draw(t, "value")), Delete: rapid.Bool().Draw(t, "delete")}
		if rapid.Bool().Draw(t, "topicConfig") {
			c.Resource, c.Name = ConfigTopic, pickTopic().Name
		} else {
			c.Resource, c.Name = ConfigBroker, rapid.SampledFrom([]string{"", "1"}).Draw(t, "res")
		}
		if c.Delete {
			c.Value = ""
		}
		return c
	default:
		b := pickBroker()
		return ProducerIDs{BrokerID: b.ID, BrokerEpoch: b.Epoch,
			NextProducerID: im.NextProducerID() + rapid.Int64Range(-1, 1000).Draw(t, "block")}
	}
}

// Random record sequences: one-by-one application, batch application, application on
// top of a restored snapshot and snapshot decoding all agree, and every earlier image
// is left exactly as it was.
func TestImageProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var im Image
		var entries []Entry
		type saved struct {
			im   Image
			snap string
		}
		var history []saved
		n := rapid.IntRange(1, 120).Draw(t, "n")
		for range n {
			rec := genRecord(t, im)
			offset := im.Offset() + rapid.Int64Range(1, 3).Draw(t, "gap")
			next, err := im.Apply(offset, rec)
			if verr := Validate(im, rec); (verr == nil) != (err == nil) {
				t.Fatalf("Validate %v, Apply %v", verr, err)
			}
			if err != nil {
				if !Equal(next, im) {
					t.Fatal("failed Apply returned a changed image")
				}
				continue
			}
			history = append(history, saved{im, string(im.EncodeSnapshot())})
			entries = append(entries, Entry{offset, rec})
			im = next
		}
		for i, h := range history {
			if string(h.im.EncodeSnapshot()) != h.snap {
				t.Fatalf("image %d changed after later applies", i)
			}
		}
		restored, err := DecodeSnapshot(im.EncodeSnapshot())
		if err != nil || !Equal(restored, im) {
			t.Fatalf("snapshot of a valid image: %v", err)
		}
		batch, err := Image{}.ApplyBatch(entries)
		if err != nil || !Equal(batch, im) {
			t.Fatalf("batch path: %v", err)
		}
		half := len(entries) / 2
		first, err := Image{}.ApplyBatch(entries[:half])
		if err != nil {
			t.Fatal(err)
		}
		mid, err := DecodeSnapshot(first.EncodeSnapshot())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries[half:] {
			if mid, err = mid.Apply(e.Offset, e.Record); err != nil {
				t.Fatalf("applying to a restored snapshot: %v", err)
			}
		}
		if !Equal(mid, im) {
			t.Fatal("restored-then-applied image differs")
		}
	})
}

// Quotas: set, replaced, removed key by key; an entity without keys disappears; bad
// entities, keys, values and removals refused.
func TestClientQuotaRecords(t *testing.T) {
	alice := QuotaEntity{HasUser: true, User: "alice"}
	im := mustApply(t, baseImage(t),
		ClientQuota{Entity: alice, Key: QuotaProducerByteRate, Value: 100},
		ClientQuota{Entity: alice, Key: QuotaProducerByteRate, Value: 200},
		ClientQuota{Entity: alice, Key: QuotaConsumerByteRate, Value: 300})
	if v, ok := im.ClientQuota(alice, QuotaProducerByteRate); !ok || v != 200 {
		t.Fatalf("producer rate %v %v", v, ok)
	}
	if got := im.ClientQuotas(alice); len(got) != 2 || got[0].Key != QuotaConsumerByteRate {
		t.Fatalf("quotas %v", got)
	}
	im = mustApply(t, im, ClientQuota{Entity: alice, Key: QuotaProducerByteRate, Remove: true},
		ClientQuota{Entity: alice, Key: QuotaConsumerByteRate, Remove: true})
	if im.QuotaEntityCount() != 0 {
		t.Fatal("an entity without quotas kept")
	}
	bad := map[string]ClientQuota{
		"no entity":       {Key: QuotaProducerByteRate, Value: 1},
		"absent name":     {Entity: QuotaEntity{HasClientID: true, User: "x"}, Key: QuotaProducerByteRate, Value: 1},
		"unknown key":     {Entity: alice, Key: "io_thread_percentage", Value: 1},
		"zero rate":       {Entity: alice, Key: QuotaProducerByteRate, Value: 0},
		"fractional rate": {Entity: alice, Key: QuotaProducerByteRate, Value: 1.5},
		"infinite":        {Entity: alice, Key: QuotaRequestPercentage, Value: math.Inf(1)},
		"control char":    {Entity: QuotaEntity{HasUser: true, User: "a\x00"}, Key: QuotaProducerByteRate, Value: 1},
		"absent removal":  {Entity: alice, Key: QuotaProducerByteRate, Remove: true},
	}
	for name, rec := range bad {
		if err := Validate(im, rec); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
