package controller

import (
	"math"
	"testing"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type quotaPart struct {
	typ  string
	name *string
}

func quotaReq(validate bool, parts []quotaPart, ops ...kmsg.AlterClientQuotasRequestEntryOp) *kmsg.AlterClientQuotasRequest {
	m := kmsg.NewPtrAlterClientQuotasRequest()
	m.Version, m.ValidateOnly = 1, validate
	en := kmsg.NewAlterClientQuotasRequestEntry()
	for _, p := range parts {
		en.Entity = append(en.Entity, kmsg.AlterClientQuotasRequestEntryEntity{Type: p.typ, Name: p.name})
	}
	en.Ops = ops
	m.Entries = append(m.Entries, en)
	return m
}

func setOp(key string, v float64) kmsg.AlterClientQuotasRequestEntryOp {
	return kmsg.AlterClientQuotasRequestEntryOp{Key: key, Value: v}
}

func removeOp(key string) kmsg.AlterClientQuotasRequestEntryOp {
	return kmsg.AlterClientQuotasRequestEntryOp{Key: key, Remove: true}
}

// AlterClientQuotas validates entities, keys and values as Kafka does, applies an entry
// all or nothing, honors validateOnly and treats the removal of an unset key as a no-op.
func TestAlterClientQuotas(t *testing.T) {
	h := newHarness(t)
	h.cluster(1)
	user := []quotaPart{{"user", strp("alice")}}
	alice := metadata.QuotaEntity{HasUser: true, User: "alice"}
	steps := []struct {
		name string
		req  *kmsg.AlterClientQuotasRequest
		code int16
		want float64 // alice's producer_byte_rate afterwards (0: unset)
	}{
		{"validate only", quotaReq(true, user, setOp("producer_byte_rate", 100)), 0, 0},
		{"set", quotaReq(false, user, setOp("producer_byte_rate", 100), setOp("request_percentage", 50)), 0, 100},
		{"replace", quotaReq(false, user, setOp("producer_byte_rate", 200)), 0, 200},
		{"unknown key", quotaReq(false, user, setOp("producer_byte_rate", 1), setOp("io_thread_percentage", 1)), errInvalidRequest, 200},
		{"key twice", quotaReq(false, user, setOp("producer_byte_rate", 1), setOp("producer_byte_rate", 2)), errInvalidRequest, 200},
		{"fraction of a byte", quotaReq(false, user, setOp("producer_byte_rate", 1.5)), errInvalidRequest, 200},
		{"zero", quotaReq(false, user, setOp("consumer_byte_rate", 0)), errInvalidRequest, 200},
		{"NaN", quotaReq(false, user, setOp("request_percentage", math.NaN())), errInvalidRequest, 200},
		{"ip entity", quotaReq(false, []quotaPart{{"ip", nil}}, setOp("producer_byte_rate", 1)), errInvalidRequest, 200},
		{"unknown type", quotaReq(false, []quotaPart{{"group", nil}}, setOp("producer_byte_rate", 1)), errInvalidRequest, 200},
		{"user twice", quotaReq(false, []quotaPart{{"user", nil}, {"user", strp("a")}}, setOp("producer_byte_rate", 1)), errInvalidRequest, 200},
		{"empty name", quotaReq(false, []quotaPart{{"client-id", strp("")}}, setOp("producer_byte_rate", 1)), errInvalidRequest, 200},
		{"empty entity", quotaReq(false, nil, setOp("producer_byte_rate", 1)), errInvalidRequest, 200},
		{"user and default client", quotaReq(false, []quotaPart{{"user", strp("alice")}, {"client-id", nil}}, setOp("producer_byte_rate", 9)), 0, 200},
		{"remove unset", quotaReq(false, user, removeOp("consumer_byte_rate")), 0, 200},
		{"remove", quotaReq(false, user, removeOp("producer_byte_rate")), 0, 0},
	}
	for _, s := range steps {
		records := len(h.q.entries)
		resp := h.call(-1, s.req).(*kmsg.AlterClientQuotasResponse)
		if len(resp.Entries) != 1 || resp.Entries[0].ErrorCode != s.code {
			t.Fatalf("%s: response %+v, want code %d", s.name, resp.Entries, s.code)
		}
		if len(resp.Entries[0].Entity) != len(s.req.Entries[0].Entity) {
			t.Fatalf("%s: entity not echoed", s.name)
		}
		if (s.code != 0 || s.req.ValidateOnly) && len(h.q.entries) != records {
			t.Fatalf("%s: proposed records", s.name)
		}
		h.commit()
		got, _ := h.committed.ClientQuota(alice, metadata.QuotaProducerByteRate)
		if got != s.want {
			t.Fatalf("%s: producer_byte_rate %v, want %v", s.name, got, s.want)
		}
	}
	both := metadata.QuotaEntity{HasUser: true, User: "alice", HasClientID: true}
	if v, _ := h.committed.ClientQuota(both, metadata.QuotaProducerByteRate); v != 9 {
		t.Fatalf("user+default client-id quota %v", v)
	}
	if v, _ := h.committed.ClientQuota(alice, metadata.QuotaRequestPercentage); v != 50 {
		t.Fatalf("request_percentage %v", v)
	}
}
