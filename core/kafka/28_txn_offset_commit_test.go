package kafka

import (
	"fmt"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const testPID, testEpoch = 4000, 2

func txnCommitRequest(version int16, groupID string, topics map[string][]int32, order []string, offset int64) *kmsg.TxnOffsetCommitRequest {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.SetVersion(version)
	req.TransactionalID, req.Group = "txn-1", groupID
	req.ProducerID, req.ProducerEpoch = testPID, testEpoch
	req.Generation, req.MemberID = -1, ""
	for _, name := range order {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = name
		for _, p := range topics[name] {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, offset+int64(p), 4, str("m")
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// txnCommit sends req and returns its codes, checking the response mirrors it.
func txnCommit(t *testing.T, b *fakeBroker, req *kmsg.TxnOffsetCommitRequest) [][]int16 {
	t.Helper()
	rs := &replies{t: t}
	TxnOffsetCommit(b, viaWire(t, req), rs.reply)
	resp := rs.one().(*kmsg.TxnOffsetCommitResponse)
	checkWire(t, resp)
	if len(resp.Topics) != len(req.Topics) {
		t.Fatalf("%d topics answered, want %d", len(resp.Topics), len(req.Topics))
	}
	var codes [][]int16
	for i, rt := range resp.Topics {
		if rt.Topic != req.Topics[i].Topic || len(rt.Partitions) != len(req.Topics[i].Partitions) {
			t.Fatalf("topic %d answered as %s with %d partitions", i, rt.Topic, len(rt.Partitions))
		}
		var cs []int16
		for j, p := range rt.Partitions {
			if p.Partition != req.Topics[i].Partitions[j].Partition {
				t.Fatalf("partition %d of %s answered as %d", j, rt.Topic, p.Partition)
			}
			cs = append(cs, p.ErrorCode)
		}
		codes = append(codes, cs)
	}
	return codes
}

func stableFetch(t *testing.T, b *fakeBroker, groupID string, topics []fetchTopic) []string {
	t.Helper()
	rs := &replies{t: t}
	OffsetFetch(b, viaWire(t, fetchRequest(7, groupID, topics, true)), rs.reply)
	resp := rs.one().(*kmsg.OffsetFetchResponse)
	checkWire(t, resp)
	return renderFetched(resp.Topics)
}

func TestTxnOffsetCommitEveryVersion(t *testing.T) {
	unknown := kerr.UnknownTopicOrPartition.Code
	for v := int16(0); v <= 5; v++ {
		b := newFakeBroker(t)
		g := groupOn(1, "txn")
		c := b.coordinate(g, nil)
		req := txnCommitRequest(v, g, map[string][]int32{"orders": {0, 9}, "nope": {0}}, []string{"orders", "nope"}, 100)
		codes := txnCommit(t, b, req)
		if want := [][]int16{{0, unknown}, {unknown}}; fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Errorf("v%d: codes %v, want %v", v, codes, want)
		}
		// v5 (transaction version 2) adds the group's offsets partition first; below,
		// the broker verifies that the transaction holds it (KIP-890 part 1).
		if added := len(b.added) == 1 && b.added[0] == b.OffsetsPartition(g); added != (v == 5) || len(b.added) > 1 {
			t.Errorf("v%d: implicit adds %v", v, b.added)
		}
		if verified := len(b.verified) == 1 && b.verified[0] == b.OffsetsPartition(g); verified != (v < 5) || len(b.verified) > 1 {
			t.Errorf("v%d: verifications %v", v, b.verified)
		}
		if b.guards != 1 || len(b.dropped) != 1 || b.dropped[0] != 1 {
			t.Errorf("v%d: guards handed out %d, dropped %v", v, b.guards, b.dropped)
		}
		orders0 := []fetchTopic{{"orders", []int32{0}}}
		if got := fetchOffsets(t, b, 7, g, orders0); !slices.Equal(got, []string{"orders/0=-1@-1:!0"}) {
			t.Errorf("v%d: before the marker: %q, want no offset", v, got)
		}
		unstable := fmt.Sprintf("orders/0=-1@-1:!%d", kerr.UnstableOffsetCommit.Code)
		if got := stableFetch(t, b, g, orders0); !slices.Equal(got, []string{unstable}) {
			t.Errorf("v%d: stable fetch before the marker: %q, want %q", v, got, unstable)
		}
		c.CompleteTxn(b.now, testPID, true)
		epoch := int32(4)
		if v < 2 {
			epoch = -1 // the leader epoch is v2+
		}
		want := fmt.Sprintf("orders/0=100@%d:m!0", epoch)
		if got := stableFetch(t, b, g, orders0); !slices.Equal(got, []string{want}) {
			t.Errorf("v%d: after the commit marker: %q, want %q", v, got, want)
		}
	}
}

func TestTxnOffsetCommitFromAMember(t *testing.T) {
	b := newFakeBroker(t)
	g := groupOn(0, "txn-members")
	m := stableMember(t, b, g, nil)
	for _, c := range []struct {
		version    int16
		generation int32
		member     string
		want       int16
	}{
		{3, m.generation, m.id, 0},
		{3, m.generation - 1, m.id, kerr.IllegalGeneration.Code},
		{3, m.generation, "stranger", kerr.UnknownMemberID.Code},
		{3, -1, "", 0},                       // anonymous: allowed in a group with members, unlike OffsetCommit
		{2, m.generation - 1, "stranger", 0}, // before v3 neither is sent
	} {
		req := txnCommitRequest(c.version, g, map[string][]int32{"orders": {0}}, []string{"orders"}, 5)
		req.Generation, req.MemberID = c.generation, c.member
		if code := txnCommit(t, b, req)[0][0]; code != c.want {
			t.Errorf("v%d generation %d member %q: code %d, want %d", c.version, c.generation, c.member, code, c.want)
		}
	}
}

func TestTxnOffsetCommitAccess(t *testing.T) {
	b := newFakeBroker(t)
	g := groupOn(3, "txn-acl")
	b.coordinate(g, nil)
	b.access = &Access{Principal: "User:bob", Host: "h", Config: &acl.Config{}, Fresh: true}
	codes := txnCommit(t, b, txnCommitRequest(3, g, map[string][]int32{"orders": {0, 1}}, []string{"orders"}, 1))
	denied := kerr.TransactionalIDAuthorizationFailed.Code
	if want := [][]int16{{denied, denied}}; fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	if st := b.coords[3].Status(); len(st.Groups) != 0 {
		t.Errorf("a refused commit created groups: %+v", st.Groups)
	}
}

// TestTxnOffsetCommitV5AddRefused: a v5 whose implicit add is refused answers every
// partition with the refusal and writes nothing; on a version-1 broker v5 adds nothing.
func TestTxnOffsetCommitV5AddRefused(t *testing.T) {
	for _, c := range []struct{ code, want int16 }{
		{kerr.ProducerFenced.Code, kerr.ProducerFenced.Code},
		{kerr.InvalidTxnState.Code, kerr.TransactionAbortable.Code},
		{kerr.NetworkException.Code, kerr.CoordinatorNotAvailable.Code},
	} {
		b := newFakeBroker(t)
		b.addCode = c.code
		g := groupOn(2, "txn-v5")
		b.coordinate(g, nil)
		codes := txnCommit(t, b, txnCommitRequest(5, g, map[string][]int32{"orders": {0, 1}}, []string{"orders"}, 1))
		if want := [][]int16{{c.want, c.want}}; fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Errorf("add answered %d: codes %v, want %v", c.code, codes, want)
		}
		if st := b.coords[2].Status(); len(st.Groups) != 0 {
			t.Errorf("a refused commit created groups: %+v", st.Groups)
		}
	}
	b := newFakeBroker(t)
	b.txnVersion, b.addCode = 1, kerr.ProducerFenced.Code
	g := groupOn(2, "txn-v5")
	b.coordinate(g, nil)
	if codes := txnCommit(t, b, txnCommitRequest(5, g, map[string][]int32{"orders": {0}}, []string{"orders"}, 1)); codes[0][0] != 0 || len(b.added) != 0 {
		t.Errorf("v5 on a version-1 broker: codes %v, adds %v", codes, b.added)
	}
}

// TestApiVersionsTxnVersion: transaction.version 2 advertises the feature (supported
// 0-2, finalized 2, with an epoch franz-go requires) and Produce v12, EndTxn v5 and
// TxnOffsetCommit v5; 1 advertises neither.
func TestApiVersionsTxnVersion(t *testing.T) {
	for _, tv := range []int16{1, 2} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(3)
		resp := ApiVersions(req, tv)
		checkWire(t, resp)
		maxOf := map[int16]int16{}
		for _, k := range resp.ApiKeys {
			maxOf[k.ApiKey] = k.MaxVersion
		}
		want := map[int16]int16{0: 12, 26: 5, 28: 5}
		if tv < 2 {
			want = map[int16]int16{0: 11, 26: 4, 28: 3}
		}
		for _, k := range []int16{0, 26, 28} {
			if maxOf[k] != want[k] {
				t.Errorf("tv %d: key %d advertised up to v%d, want v%d", tv, k, maxOf[k], want[k])
			}
		}
		hasFeature := len(resp.FinalizedFeatures) == 1 && resp.FinalizedFeatures[0].Name == "transaction.version" &&
			resp.FinalizedFeatures[0].MaxVersionLevel == 2 && resp.FinalizedFeaturesEpoch >= 0 &&
			len(resp.SupportedFeatures) == 1 && resp.SupportedFeatures[0].MaxVersion == 2
		if hasFeature != (tv == 2) || tv < 2 && (len(resp.SupportedFeatures) != 0 || len(resp.FinalizedFeatures) != 0) {
			t.Errorf("tv %d: features %+v %+v epoch %d", tv, resp.SupportedFeatures, resp.FinalizedFeatures, resp.FinalizedFeaturesEpoch)
		}
	}
}

// TestTxnOffsetCommitVerifyRefused: below v5 a commit the transaction coordinator does
// not vouch for (KIP-890 part 1: a late commit of an ended transaction) answers every
// partition, as Kafka's group coordinator does per version, and writes nothing.
func TestTxnOffsetCommitVerifyRefused(t *testing.T) {
	abortable, invalid := kerr.TransactionAbortable.Code, kerr.InvalidTxnState.Code
	for _, c := range []struct {
		version, code, want int16
	}{
		{3, abortable, invalid},
		{0, invalid, invalid},
		{4, abortable, abortable},
		{3, kerr.ProducerFenced.Code, kerr.InvalidProducerEpoch.Code},
		{3, kerr.InvalidProducerIDMapping.Code, kerr.InvalidProducerIDMapping.Code},
		{3, kerr.ConcurrentTransactions.Code, kerr.ConcurrentTransactions.Code},
		{3, kerr.NetworkException.Code, kerr.CoordinatorLoadInProgress.Code},
		{1, kerr.NetworkException.Code, kerr.CoordinatorNotAvailable.Code},
		{2, kerr.RequestTimedOut.Code, kerr.CoordinatorLoadInProgress.Code},
		{3, kerr.NotLeaderForPartition.Code, kerr.NotCoordinator.Code},
	} {
		b := newFakeBroker(t)
		b.verifyCode = c.code
		g := groupOn(2, "txn-late")
		b.coordinate(g, nil)
		codes := txnCommit(t, b, txnCommitRequest(c.version, g, map[string][]int32{"orders": {0, 1}}, []string{"orders"}, 1))
		if want := [][]int16{{c.want, c.want}}; fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Errorf("v%d verification answered %s: codes %v, want %v", c.version, kerr.ErrorForCode(c.code), codes, want)
		}
		if st := b.coords[2].Status(); len(st.Groups) != 0 {
			t.Errorf("v%d: a refused commit created groups: %+v", c.version, st.Groups)
		}
		if got := stableFetch(t, b, g, []fetchTopic{{"orders", []int32{0}}}); !slices.Equal(got, []string{"orders/0=-1@-1:!0"}) {
			t.Errorf("v%d: a refused commit left %q", c.version, got)
		}
	}
}
