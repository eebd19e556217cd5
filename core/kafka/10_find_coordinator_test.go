package kafka

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func findRequest(version int16, keyType int8, keys ...string) *kmsg.FindCoordinatorRequest {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.SetVersion(version)
	req.CoordinatorType = keyType
	if version >= 4 {
		req.CoordinatorKeys = keys
	} else {
		req.CoordinatorKey = keys[0]
	}
	return req
}

// found is one key's answer, whichever shape the version gives it.
type found struct {
	key     string
	node    int32
	host    string
	port    int32
	code    int16
	message bool
}

func foundOf(resp *kmsg.FindCoordinatorResponse, key string) []found {
	if resp.GetVersion() < 4 {
		return []found{{key, resp.NodeID, resp.Host, resp.Port, resp.ErrorCode, resp.ErrorMessage != nil}}
	}
	var out []found
	for _, c := range resp.Coordinators {
		out = append(out, found{c.Key, c.NodeID, c.Host, c.Port, c.ErrorCode, c.ErrorMessage != nil})
	}
	return out
}

func TestFindCoordinatorSingleKeyEveryVersion(t *testing.T) {
	cases := []struct {
		name    string
		keyType int8
		answer  findAnswer
		asked   bool
		want    found
	}{
		{"found", 0, findAnswer{2, "b2", 9092, 0}, true, found{"g", 2, "b2", 9092, 0, false}},
		{"loading", 0, findAnswer{-1, "", -1, kerr.CoordinatorNotAvailable.Code}, true,
			found{"g", -1, "", -1, kerr.CoordinatorNotAvailable.Code, false}},
		{"error hides the address", 0, findAnswer{3, "b3", 9093, kerr.NotCoordinator.Code}, true,
			found{"g", -1, "", -1, kerr.NotCoordinator.Code, false}},
		{"transaction", 1, findAnswer{2, "b2", 9092, 0}, true, found{"g", 2, "b2", 9092, 0, false}},
		{"unknown key type", 7, findAnswer{2, "b2", 9092, 0}, false,
			found{"g", -1, "", -1, kerr.InvalidRequest.Code, true}},
	}
	for _, c := range cases {
		for _, v := range versions(t, 10) {
			if v == 0 && c.keyType != 0 {
				continue // v0 has no key type
			}
			b := newFakeBroker(t)
			b.finds["g"] = c.answer
			rs := &replies{t: t}
			FindCoordinator(b, viaWire(t, findRequest(v, c.keyType, "g")), rs.reply)
			resp := rs.one().(*kmsg.FindCoordinatorResponse)
			checkWire(t, resp)
			want := c.want
			if v < 1 {
				want.message = false // v0 carries no message
			}
			if got := foundOf(resp, "g"); !slices.Equal(got, []found{want}) {
				t.Errorf("%s v%d: got %+v, want %+v", c.name, v, got, want)
			}
			if asked := len(b.findCalls) > 0; asked != c.asked {
				t.Errorf("%s v%d: broker asked %v, want %v", c.name, v, asked, c.asked)
			}
		}
	}
}

func TestFindCoordinatorBatchKeepsKeyOrder(t *testing.T) {
	for _, v := range []int16{4, 5} {
		b := newFakeBroker(t)
		b.finds["a"] = findAnswer{1, "b1", 9091, 0}
		b.finds["c"] = findAnswer{3, "b3", 9093, 0}
		b.findHold = true
		rs := &replies{t: t}
		FindCoordinator(b, viaWire(t, findRequest(v, 0, "c", "missing", "a")), rs.reply)
		if !slices.Equal(b.findCalls, []string{"c", "missing", "a"}) {
			t.Fatalf("v%d: asked for %q", v, b.findCalls)
		}
		for i := len(b.findHeld) - 1; i >= 0; i-- {
			if len(rs.got) != 0 {
				t.Fatalf("v%d: answered before every key was found", v)
			}
			b.findHeld[i]()
		}
		resp := rs.one().(*kmsg.FindCoordinatorResponse)
		checkWire(t, resp)
		want := []found{
			{"c", 3, "b3", 9093, 0, false},
			{"missing", -1, "", -1, kerr.CoordinatorNotAvailable.Code, false},
			{"a", 1, "b1", 9091, 0, false},
		}
		if got := foundOf(resp, ""); !slices.Equal(got, want) {
			t.Errorf("v%d: got %+v, want %+v", v, got, want)
		}
	}
}

func TestFindCoordinatorEmptyBatch(t *testing.T) {
	b := newFakeBroker(t)
	rs := &replies{t: t}
	FindCoordinator(b, viaWire(t, findRequest(4, 0, []string{}...)), rs.reply)
	resp := rs.one().(*kmsg.FindCoordinatorResponse)
	checkWire(t, resp)
	if len(resp.Coordinators) != 0 || len(b.findCalls) != 0 {
		t.Errorf("an empty batch got %d answers after %d lookups", len(resp.Coordinators), len(b.findCalls))
	}
}
