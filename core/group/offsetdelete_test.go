package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerJoinReq is a consumer's JoinGroup whose metadata subscribes to topics.
func consumerJoinReq(group, memberID string, topics ...string) *kmsg.JoinGroupRequest {
	req := joinReq(group, memberID)
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	req.Protocols[0].Metadata = md.AppendTo(nil)
	return req
}

// consumerGroup forms a Stable group of one member subscribed to topics.
func (h *harness) consumerGroup(group string, topics ...string) (string, int32) {
	h.t.Helper()
	first := h.join(consumerJoinReq(group, "", topics...)).get()
	jc := h.join(consumerJoinReq(group, first.MemberID, topics...))
	h.runUntil(jc.answered)
	return first.MemberID, h.syncAll(group, []string{first.MemberID}, []*joinCall{jc})
}

func deleteCodes(resp *kmsg.OffsetDeleteResponse) []int16 {
	var out []int16
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, p.ErrorCode)
		}
	}
	return out
}

func (h *harness) commitTopic(group, memberID string, gen int32, topic string, p int32, off int64) {
	h.t.Helper()
	req := commitReq(group, memberID, gen, map[int32]int64{p: off})
	req.Topics[0].Topic = topic
	wantCode(h.t, "commit", commitCodes(h.commit(req).get())[0], codeNone)
}

func (h *harness) fetchTopic(group, topic string, p int32) int64 {
	h.t.Helper()
	fc := &call[kmsg.OffsetFetchResponseGroup]{t: h.t}
	h.c.OffsetFetch(h.now, group, []kmsg.OffsetFetchRequestGroupTopic{{Topic: topic, Partitions: []int32{p}}}, false, fc.reply)
	return fc.get().Topics[0].Partitions[0].Offset
}

func TestOffsetDeleteGroupErrors(t *testing.T) {
	h := newHarness(t)
	wantCode(t, "unknown group", h.offsetDelete("nope", "t", 0).get().ErrorCode, codeGroupIDNotFound)
	wantCode(t, "empty group id", h.offsetDelete("", "t", 0).get().ErrorCode, codeInvalidGroupID)
	// A group of another protocol type with members refuses.
	req := joinReq("other", "")
	req.ProtocolType = "connect"
	first := h.join(req).get()
	req.MemberID = first.MemberID
	h.join(req)
	h.runUntil(func() bool { return h.group("other").State == "CompletingRebalance" })
	resp := h.offsetDelete("other", "t", 0).get()
	if resp.ErrorCode != codeNonEmptyGroup || len(resp.Topics) != 0 {
		t.Errorf("non-consumer group with members: %+v", resp)
	}
	h.log.manualLoad = true
	h.failover(h.cfg)
	wantCode(t, "loading", h.offsetDelete("other", "t", 0).get().ErrorCode, codeCoordinatorLoadInProgress)
	h.c.Close()
	wantCode(t, "closed", h.offsetDelete("other", "t", 0).get().ErrorCode, codeNotCoordinator)
}

func TestOffsetDeleteEmptyGroupIsDurableAndRemovesIt(t *testing.T) {
	var events []Event
	h := newHarnessConfig(t, expiryConfig(&events))
	id, gen := h.consumerGroup("g", "a")
	h.commitTopic("g", id, gen, "a", 0, 5)
	h.commitTopic("g", id, gen, "a", 1, 6)
	h.leave("g", id)
	h.log.auto = false
	dc := h.offsetDelete("g", "a", 0, 3) // partition 3 has no offset: answered NONE too
	if dc.answered() {
		t.Fatal("answered before the tombstones were durable")
	}
	if got := h.fetchTopic("g", "a", 0); got != 5 {
		t.Fatalf("offset %d gone before its tombstone is durable", got)
	}
	h.log.complete(0)
	if codes := deleteCodes(dc.get()); len(codes) != 2 || codes[0] != codeNone || codes[1] != codeNone {
		t.Fatalf("codes %v", codes)
	}
	if h.fetchTopic("g", "a", 0) != -1 || h.fetchTopic("g", "a", 1) != 6 {
		t.Fatal("wrong offsets after the delete")
	}
	h.log.auto = true
	h.failover(h.cfg)
	if h.fetchTopic("g", "a", 0) != -1 || h.fetchTopic("g", "a", 1) != 6 || h.group("g").State != "Empty" {
		t.Fatal("the delete did not survive failover")
	}
	// Deleting the last offset removes the group, as Kafka does.
	wantCode(t, "last delete", deleteCodes(h.offsetDelete("g", "a", 1).get())[0], codeNone)
	if h.hasGroup("g") {
		t.Fatalf("group left without offsets kept: %+v", h.group("g"))
	}
	if len(events) != 1 || events[0].Kind != GroupRemoving || events[0].Group != "g" {
		t.Errorf("events %+v", events)
	}
	if rec := h.log.lastGroupRecord("g"); rec != nil {
		t.Errorf("removed group's record still in the log: %+v", rec)
	}
	wantCode(t, "after removal", h.offsetDelete("g", "a", 1).get().ErrorCode, codeGroupIDNotFound)
}

func TestOffsetDeleteLiveConsumerGroupKeepsSubscribedTopics(t *testing.T) {
	h := newHarness(t)
	id, gen := h.consumerGroup("g", "a", "b")
	h.commitTopic("g", id, gen, "a", 0, 5)
	h.commitTopic("g", id, gen, "c", 0, 7) // a topic it no longer subscribes to
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "g"
	req.Topics = []kmsg.OffsetDeleteRequestTopic{
		{Topic: "a", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
		{Topic: "c", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}, {Partition: 0}}},
	}
	dc := &call[*kmsg.OffsetDeleteResponse]{t: t}
	h.c.OffsetDelete(h.now, req, dc.reply)
	codes := deleteCodes(dc.get())
	if len(codes) != 3 || codes[0] != codeGroupSubscribedToTopic || codes[1] != codeNone || codes[2] != codeNone {
		t.Fatalf("codes %v", codes)
	}
	if h.fetchTopic("g", "a", 0) != 5 || h.fetchTopic("g", "c", 0) != -1 {
		t.Fatal("wrong offsets after the delete")
	}
	if st := h.group("g"); st.State != "Stable" {
		t.Errorf("group %s after deleting offsets of an unsubscribed topic", st.State)
	}
}

func TestOffsetDeleteUndecodableSubscription(t *testing.T) {
	// joinReq's metadata is not a consumer subscription: as in Kafka, no topic counts as
	// subscribed.
	h := newHarness(t)
	ids, gen := h.stableGroup("g", 1)
	h.commit(commitReq("g", ids[0], gen, map[int32]int64{0: 5}))
	wantCode(t, "delete", deleteCodes(h.offsetDelete("g", "t", 0).get())[0], codeNone)
	if h.fetch("g", 0, false).Offset != -1 {
		t.Error("offset kept")
	}
}

func TestOffsetDeleteFailedAppend(t *testing.T) {
	h := newHarness(t)
	h.commit(commitReq("s", "", -1, map[int32]int64{0: 5, 1: 6}))
	h.log.auto = false
	dc := h.offsetDelete("s", "t", 0)
	h.log.fail(0, ErrNotLeader)
	if resp := dc.get(); resp.ErrorCode != codeNotCoordinator || len(resp.Topics) != 0 {
		t.Fatalf("failed delete answered %+v", resp)
	}
	if h.fetch("s", 0, false).Offset != 5 {
		t.Fatal("offset gone though its tombstone failed")
	}
	dc = h.offsetDelete("s", "t", 0)
	h.c.Close()
	wantCode(t, "delete waiting at close", dc.get().ErrorCode, codeNotCoordinator)
}
