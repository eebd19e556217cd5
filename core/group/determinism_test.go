package group

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeterministicReplies runs one busy script twice with the same seed and compares
// every reply and its order: Go randomizes map iteration, so any map order reaching an
// output shows up as a difference.
func TestDeterministicReplies(t *testing.T) {
	first := scriptTranscript(t)
	for range 3 {
		if again := scriptTranscript(t); again != first {
			t.Fatalf("transcripts differ:\n%s\n---\n%s", first, again)
		}
	}
}

func scriptTranscript(t *testing.T) string {
	h := newHarness(t)
	var out strings.Builder
	rec := func(what string) func(v any) {
		return func(v any) {
			b, err := json.Marshal(v) // follows pointers, unlike %v
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%d %s %s\n", h.now, what, b)
		}
	}
	joinRec := func(name string) func(*kmsg.JoinGroupResponse) {
		r := rec("join " + name)
		return func(resp *kmsg.JoinGroupResponse) { r(*resp) }
	}
	var ids []string
	for i := range 6 {
		first := h.join(joinReq("g", "")).get()
		ids = append(ids, first.MemberID)
		h.c.JoinGroup(h.now, joinReq("g", first.MemberID), "c", "h", joinRec(fmt.Sprint(i)))
		req := staticJoinReq("s", "", fmt.Sprintf("i%d", i))
		h.c.JoinGroup(h.now, req, "c", "h", joinRec(fmt.Sprint("s", i)))
	}
	h.run(10 * time.Second)
	gen := h.group("g").Generation
	for _, id := range ids {
		h.c.SyncGroup(h.now, syncReq("g", id, gen, map[string]string{id: "x"}), func(r *kmsg.SyncGroupResponse) { rec("sync")(*r) })
	}
	h.c.LeaveGroup(h.now, &kmsg.LeaveGroupRequest{Version: 3, Group: "g",
		Members: []kmsg.LeaveGroupRequestMember{{MemberID: ids[4]}, {MemberID: ids[5]}}},
		func(r *kmsg.LeaveGroupResponse) { rec("leave")(*r) })
	h.c.OffsetCommit(h.now, commitReq("g", ids[0], gen, map[int32]int64{0: 1, 1: 2}), func(r *kmsg.OffsetCommitResponse) { rec("commit")(*r) })
	for _, id := range ids[:4] {
		h.c.JoinGroup(h.now, joinReq("g", id), "c", "h", joinRec(id))
	}
	h.run(time.Minute)
	h.c.Close()
	rec("status")(h.c.Status())
	return out.String()
}
