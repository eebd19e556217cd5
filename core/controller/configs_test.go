package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type incOp struct {
	key   string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

func incReq(typ kmsg.ConfigResourceType, name string, ops ...incOp) *kmsg.IncrementalAlterConfigsRequest {
	m := kmsg.NewPtrIncrementalAlterConfigsRequest()
	m.Version = 1
	r := kmsg.IncrementalAlterConfigsRequestResource{ResourceType: typ, ResourceName: name}
	for _, o := range ops {
		r.Configs = append(r.Configs, kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: o.key, Op: o.op, Value: o.value})
	}
	m.Resources = append(m.Resources, r)
	return m
}

func configMap(es []metadata.ConfigEntry) map[string]string {
	m := map[string]string{}
	for _, e := range es {
		m[e.Key] = e.Value
	}
	return m
}

func TestIncrementalAlterConfigs(t *testing.T) {
	h := newHarness(t)
	h.cluster(1)
	h.createTopic("t", 1, 1)
	code := func(m kmsg.Request) int16 { return errorCodes(h.call(-1, m))[0] }

	steps := []struct {
		name string
		req  *kmsg.IncrementalAlterConfigsRequest
		code int16
		want map[string]string // topic t's configs afterwards
	}{
		{"set", incReq(2, "t", incOp{"retention.ms", 0, strp("100")}, incOp{"cleanup.policy", 0, strp("compact")}), 0,
			map[string]string{"retention.ms": "100", "cleanup.policy": "compact"}},
		{"append", incReq(2, "t", incOp{"cleanup.policy", 2, strp("delete")}), 0,
			map[string]string{"retention.ms": "100", "cleanup.policy": "compact,delete"}},
		{"append present", incReq(2, "t", incOp{"cleanup.policy", 2, strp("delete")}), 0,
			map[string]string{"retention.ms": "100", "cleanup.policy": "compact,delete"}},
		{"subtract", incReq(2, "t", incOp{"cleanup.policy", 3, strp("compact")}), 0,
			map[string]string{"retention.ms": "100", "cleanup.policy": "delete"}},
		{"subtract to empty", incReq(2, "t", incOp{"cleanup.policy", 3, strp("delete")}), errInvalidConfig, nil},
		{"append to scalar", incReq(2, "t", incOp{"retention.ms", 2, strp("1")}), errInvalidConfig, nil},
		{"delete", incReq(2, "t", incOp{"retention.ms", 1, nil}), 0, map[string]string{"cleanup.policy": "delete"}},
		{"delete unset", incReq(2, "t", incOp{"segment.ms", 1, nil}), 0, map[string]string{"cleanup.policy": "delete"}},
		{"unknown key", incReq(2, "t", incOp{"retention.hours", 0, strp("1")}), errInvalidConfig, nil},
		{"bad value", incReq(2, "t", incOp{"segment.bytes", 0, strp("10")}), errInvalidConfig, nil},
		{"null set", incReq(2, "t", incOp{"segment.bytes", 0, nil}), errInvalidConfig, nil},
		{"bad op", incReq(2, "t", incOp{"segment.bytes", 9, strp("1")}), errInvalidRequest, nil},
		{"key twice", incReq(2, "t", incOp{"segment.ms", 0, strp("5")}, incOp{"segment.ms", 0, strp("6")}), errInvalidRequest, nil},
		{"all or nothing", incReq(2, "t", incOp{"segment.ms", 0, strp("5")}, incOp{"segment.bytes", 0, strp("x")}), errInvalidConfig, nil},
		{"unknown topic", incReq(2, "u", incOp{"segment.ms", 0, strp("5")}), errUnknownTopicOrPartition, nil},
		{"per-broker", incReq(4, "1", incOp{"log.retention.ms", 0, strp("5")}), errInvalidRequest, nil},
		{"group resource", incReq(32, "g", incOp{"x", 0, strp("5")}), errInvalidRequest, nil},
		{"topic key on broker", incReq(4, "", incOp{"retention.ms", 0, strp("5")}), errInvalidConfig, nil},
	}
	for _, s := range steps {
		records := len(h.q.entries)
		if got := code(s.req); got != s.code {
			t.Fatalf("%s: code %d, want %d", s.name, got, s.code)
		}
		if s.code != 0 {
			if len(h.q.entries) != records {
				t.Fatalf("%s: failed change proposed records", s.name)
			}
			continue
		}
		if got := configMap(h.committed.TopicConfig("t")); !mapsEqual(got, s.want) {
			t.Fatalf("%s: configs %v, want %v", s.name, got, s.want)
		}
	}

	// The cluster default feeds topics without an override.
	if got := code(incReq(4, "", incOp{"log.flush", 0, strp("async")})); got != 0 {
		t.Fatalf("cluster default: %d", got)
	}
	if v, src, _ := h.committed.ResolveTopicConfig("t", "flush.mode", nil); v != "async" || src != metadata.SourceClusterDefault {
		t.Fatalf("flush.mode resolves to %q from %d", v, src)
	}
	// ValidateOnly changes nothing.
	m := incReq(2, "t", incOp{"segment.ms", 0, strp("5")})
	m.ValidateOnly = true
	records := len(h.q.entries)
	if got := code(m); got != 0 || len(h.q.entries) != records {
		t.Fatal("validate only proposed records")
	}
	// A resource listed twice fails both times.
	m = incReq(2, "t", incOp{"segment.ms", 0, strp("5")})
	m.Resources = append(m.Resources, m.Resources[0])
	if codes := errorCodes(h.call(-1, m)); !slices.Equal(codes, []int16{errInvalidRequest, errInvalidRequest}) {
		t.Fatalf("duplicate resource: %v", codes)
	}
}

func TestAlterConfigsReplacesAll(t *testing.T) {
	h := newHarness(t)
	h.cluster(1)
	h.createTopic("t", 1, 1)
	h.call(-1, incReq(2, "t", incOp{"retention.ms", 0, strp("100")}, incOp{"segment.ms", 0, strp("7")}))
	m := kmsg.NewPtrAlterConfigsRequest()
	m.Version = 1
	m.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: 2, ResourceName: "t",
		Configs: []kmsg.AlterConfigsRequestResourceConfig{{Name: "segment.ms", Value: strp("8")}, {Name: "min.insync.replicas", Value: strp("2")}}}}
	if codes := errorCodes(h.call(-1, m)); codes[0] != 0 {
		t.Fatalf("alter: %v", codes)
	}
	want := map[string]string{"segment.ms": "8", "min.insync.replicas": "2"}
	if got := configMap(h.committed.TopicConfig("t")); !mapsEqual(got, want) {
		t.Fatalf("configs %v, want %v", got, want)
	}
	m.Resources[0].Configs = []kmsg.AlterConfigsRequestResourceConfig{{Name: "segment.ms", Value: nil}}
	if codes := errorCodes(h.call(-1, m)); codes[0] != errInvalidConfig {
		t.Fatalf("null value: %v", codes)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// max.message.bytes, for a topic or as the cluster default (message.max.bytes), may not
// exceed the broker's ceiling, whichever request sets it; the refusal names the ceiling.
func TestMessageBytesCeiling(t *testing.T) {
	for _, ceiling := range []int32{0, 4 << 20} {
		cfg := testConfig(1)
		cfg.MessageBytesMax = ceiling
		h := newHarnessConfig(t, cfg)
		h.cluster(1)
		h.createTopic("t", 1, 1)
		limit := int64(MessageBytesMaxDefault)
		if ceiling > 0 {
			limit = int64(ceiling)
		}
		above, at := strp(fmt.Sprint(limit+1)), strp(fmt.Sprint(limit))
		create := func(v *string) (int16, string) {
			m := kmsg.NewPtrCreateTopicsRequest()
			m.Version = 7
			m.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "n" + *v, NumPartitions: 1, ReplicationFactor: 1,
				Configs: []kmsg.CreateTopicsRequestTopicConfig{{Name: "max.message.bytes", Value: v}}}}
			r := h.call(-1, m).(*kmsg.CreateTopicsResponse).Topics[0]
			return r.ErrorCode, deref(r.ErrorMessage)
		}
		incremental := func(typ kmsg.ConfigResourceType, name, key string, v *string) (int16, string) {
			r := h.call(-1, incReq(typ, name, incOp{key, 0, v})).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
			return r.ErrorCode, deref(r.ErrorMessage)
		}
		replace := func(key string, v *string) (int16, string) {
			m := kmsg.NewPtrAlterConfigsRequest()
			m.Version = 1
			m.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: 2, ResourceName: "t",
				Configs: []kmsg.AlterConfigsRequestResourceConfig{{Name: key, Value: v}}}}
			r := h.call(-1, m).(*kmsg.AlterConfigsResponse).Resources[0]
			return r.ErrorCode, deref(r.ErrorMessage)
		}
		steps := []struct {
			name string
			do   func(*string) (int16, string)
		}{
			{"CreateTopics", create},
			{"IncrementalAlterConfigs topic", func(v *string) (int16, string) { return incremental(2, "t", "max.message.bytes", v) }},
			{"IncrementalAlterConfigs cluster", func(v *string) (int16, string) { return incremental(4, "", "message.max.bytes", v) }},
			{"AlterConfigs topic", func(v *string) (int16, string) { return replace("max.message.bytes", v) }},
		}
		for _, s := range steps {
			for _, v := range []*string{above, strp("2147483647")} {
				records := len(h.q.entries)
				code, msg := s.do(v)
				if code != errInvalidConfig || !strings.Contains(msg, fmt.Sprintf("message.max.bytes=%d", limit)) {
					t.Fatalf("ceiling %d, %s %s: code %d %q", limit, s.name, *v, code, msg)
				}
				if len(h.q.entries) != records {
					t.Fatalf("%s: a refused value was proposed", s.name)
				}
			}
			if code, msg := s.do(at); code != 0 {
				t.Fatalf("ceiling %d, %s at the ceiling: %d %q", limit, s.name, code, msg)
			}
		}
	}
}
