package kafka

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// configCluster sets retention.ms on "orders" and the cluster default of segment.bytes.
func configCluster(t *testing.T) *fakeBroker {
	return newFakeBroker(t,
		metadata.Config{Resource: metadata.ConfigTopic, Name: "orders", Key: "retention.ms", Value: "1000"},
		metadata.Config{Resource: metadata.ConfigBroker, Name: "", Key: "log.segment.bytes", Value: "2048"},
		metadata.Config{Resource: metadata.ConfigBroker, Name: "", Key: "log.retention.ms", Value: "5000"},
	)
}

func describeConfigs(t *testing.T, b *fakeBroker, version int16, synonyms, docs bool, resources ...kmsg.DescribeConfigsRequestResource) *kmsg.DescribeConfigsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.SetVersion(version)
	req.Resources, req.IncludeSynonyms, req.IncludeDocumentation = resources, synonyms, docs
	resp := DescribeConfigs(b.View(), viaWire(t, req))
	checkWire(t, resp)
	if len(resp.Resources) != len(resources) {
		t.Fatalf("v%d: %d resources answered, want %d", version, len(resp.Resources), len(resources))
	}
	for i, r := range resp.Resources {
		if r.ResourceType != resources[i].ResourceType || r.ResourceName != resources[i].ResourceName {
			t.Fatalf("v%d: resource %d is %v/%q, want %v/%q", version, i, r.ResourceType, r.ResourceName, resources[i].ResourceType, resources[i].ResourceName)
		}
	}
	return resp
}

func configResource(typ kmsg.ConfigResourceType, name string, keys ...string) kmsg.DescribeConfigsRequestResource {
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.ConfigNames = typ, name, keys
	return r
}

func findConfig(t *testing.T, r kmsg.DescribeConfigsResponseResource, name string) kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	for _, c := range r.Configs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s not described", name)
	return kmsg.DescribeConfigsResponseResourceConfig{}
}

// synonymsOf renders synonyms as name=value@source.
func synonymsOf(c kmsg.DescribeConfigsResponseResourceConfig) []string {
	var out []string
	for _, s := range c.ConfigSynonyms {
		out = append(out, fmt.Sprintf("%s=%s@%d", s.Name, *s.Value, s.Source))
	}
	return out
}

func TestDescribeConfigsTopicEveryVersion(t *testing.T) {
	defs := metadata.TopicConfigDefs()
	for _, v := range versions(t, 32) {
		for _, flags := range [][2]bool{{false, false}, {true, true}} {
			b := configCluster(t)
			resp := describeConfigs(t, b, v, flags[0], flags[1], configResource(kmsg.ConfigResourceTypeTopic, "orders"))
			r := resp.Resources[0]
			if r.ErrorCode != 0 || len(r.Configs) != len(defs) {
				t.Fatalf("v%d: code %d with %d configs, want every one of %d", v, r.ErrorCode, len(r.Configs), len(defs))
			}
			for i, c := range r.Configs {
				if c.Name != defs[i].Name || c.ReadOnly || c.IsSensitive {
					t.Errorf("v%d: config %d is %+v, want %s, writable", v, i, c, defs[i].Name)
				}
			}
			type shape struct {
				value     string
				source    kmsg.ConfigSource
				isDefault bool
				synonyms  []string
			}
			check := func(name string, w shape) {
				t.Helper()
				c := findConfig(t, r, name)
				if v == 0 {
					w.source = -1
				} else {
					w.isDefault = false
				}
				if v == 0 || !flags[0] {
					w.synonyms = nil
				}
				got := shape{*c.Value, c.Source, c.IsDefault, synonymsOf(c)}
				if got.value != w.value || got.source != w.source || got.isDefault != w.isDefault || !slices.Equal(got.synonyms, w.synonyms) {
					t.Errorf("v%d synonyms=%v %s: got %+v, want %+v", v, flags[0], name, got, w)
				}
			}
			check("retention.ms", shape{"1000", kmsg.ConfigSourceDynamicTopicConfig, false,
				[]string{"retention.ms=1000@1", "log.retention.ms=5000@3", "log.retention.ms=604800000@5"}})
			check("segment.bytes", shape{"2048", kmsg.ConfigSourceDynamicDefaultBrokerConfig, false,
				[]string{"log.segment.bytes=2048@3", "log.segment.bytes=1073741824@5"}})
			check("cleanup.policy", shape{"delete", kmsg.ConfigSourceDefaultConfig, true,
				[]string{"log.cleanup.policy=delete@5"}})

			c := findConfig(t, r, "min.insync.replicas")
			wantType, wantDoc := kmsg.ConfigTypeUnknown, false
			if v >= 3 {
				wantType, wantDoc = kmsg.ConfigTypeInt, flags[1]
			}
			if c.ConfigType != wantType || (c.Documentation != nil) != wantDoc {
				t.Errorf("v%d docs=%v: type %v, documentation %v", v, flags[1], c.ConfigType, c.Documentation)
			}
			if wantDoc && *c.Documentation == "" {
				t.Errorf("v%d: empty documentation", v)
			}
		}
	}
}

func TestDescribeConfigsFilterAndErrors(t *testing.T) {
	b := configCluster(t)
	resp := describeConfigs(t, b, 4, false, false,
		configResource(kmsg.ConfigResourceTypeTopic, "orders", "segment.bytes", "no.such.key", "cleanup.policy"),
		configResource(kmsg.ConfigResourceTypeTopic, "events", []string{}...),
		configResource(kmsg.ConfigResourceTypeTopic, "missing"),
		configResource(kmsg.ConfigResourceTypeBrokerLogger, "1"),
		configResource(kmsg.ConfigResourceTypeBroker, "9"),
		configResource(kmsg.ConfigResourceTypeBroker, "01"),
		configResource(kmsg.ConfigResourceTypeBroker, "x"),
	)
	var names []string
	for _, c := range resp.Resources[0].Configs {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"cleanup.policy", "segment.bytes"}) {
		t.Errorf("filtered configs %q, want cleanup.policy and segment.bytes in table order", names)
	}
	if n := len(resp.Resources[1].Configs); n != 0 || resp.Resources[1].ErrorCode != 0 {
		t.Errorf("an empty name list got %d configs (code %d), want none", n, resp.Resources[1].ErrorCode)
	}
	wantCodes := []int16{0, 0, kerr.UnknownTopicOrPartition.Code, kerr.InvalidRequest.Code,
		kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code}
	for i, r := range resp.Resources {
		if r.ErrorCode != wantCodes[i] {
			t.Errorf("resource %d: code %d, want %d", i, r.ErrorCode, wantCodes[i])
		}
		if (r.ErrorCode != 0) != (r.ErrorMessage != nil) || (r.ErrorCode != 0 && len(r.Configs) > 0) {
			t.Errorf("resource %d: code %d, message %v, %d configs", i, r.ErrorCode, r.ErrorMessage, len(r.Configs))
		}
	}
}

func TestDescribeConfigsBroker(t *testing.T) {
	defs := metadata.BrokerConfigDefs()
	for _, v := range versions(t, 32) {
		b := configCluster(t)
		resp := describeConfigs(t, b, v, true, false,
			configResource(kmsg.ConfigResourceTypeBroker, ""),
			configResource(kmsg.ConfigResourceTypeBroker, "1"))
		for i, r := range resp.Resources {
			if r.ErrorCode != 0 || len(r.Configs) != len(defs) {
				t.Fatalf("v%d broker %q: code %d, %d configs, want %d", v, r.ResourceName, r.ErrorCode, len(r.Configs), len(defs))
			}
			if !slices.IsSortedFunc(r.Configs, func(a, b kmsg.DescribeConfigsResponseResourceConfig) int {
				return strings.Compare(a.Name, b.Name)
			}) {
				t.Errorf("v%d: broker configs not sorted by name", v)
			}
			for _, c := range r.Configs {
				if _, ok := metadata.BrokerConfigDef(c.Name); !ok {
					t.Errorf("v%d: %s is not a broker-level key", v, c.Name)
				}
				if c.ReadOnly != (i == 1) {
					t.Errorf("v%d broker %q %s: read-only %v", v, r.ResourceName, c.Name, c.ReadOnly)
				}
			}
			seg, policy := findConfig(t, r, "log.segment.bytes"), findConfig(t, r, "log.cleanup.policy")
			if *seg.Value != "2048" || *policy.Value != "delete" {
				t.Errorf("v%d: values %s and %s", v, *seg.Value, *policy.Value)
			}
			if v >= 1 {
				if seg.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig || policy.Source != kmsg.ConfigSourceDefaultConfig {
					t.Errorf("v%d: sources %v and %v", v, seg.Source, policy.Source)
				}
				if got := synonymsOf(seg); !slices.Equal(got, []string{"log.segment.bytes=2048@3", "log.segment.bytes=1073741824@5"}) {
					t.Errorf("v%d: synonyms %q", v, got)
				}
			} else if seg.IsDefault || !policy.IsDefault {
				t.Errorf("v0: is-default %v and %v", seg.IsDefault, policy.IsDefault)
			}
		}
	}
}

// A broker describing its own id adds the read-only status entry of its fenced ranges;
// another broker's id is refused: only that broker knows its static configuration.
func TestDescribeConfigsFencedRanges(t *testing.T) {
	b := configCluster(t)
	v := b.View()
	v.Fences = func() []ReplicaFences {
		return []ReplicaFences{{Topic: "orders", Partition: 2, Fences: []disk.Fence{
			{From: 403, To: 419, Kind: disk.FenceLost}, {From: 500, To: 502, Kind: disk.FenceDamaged}}}}
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.SetVersion(4)
	req.Resources = []kmsg.DescribeConfigsRequestResource{configResource(kmsg.ConfigResourceTypeBroker, "1"),
		configResource(kmsg.ConfigResourceTypeBroker, "2")}
	resp := DescribeConfigs(v, viaWire(t, req))
	checkWire(t, resp)
	own := findConfig(t, resp.Resources[0], FencedRangesConfig)
	if *own.Value != "orders-2:403-419:lost,orders-2:500-502:damaged" || !own.ReadOnly {
		t.Fatalf("entry %+v", own)
	}
	if r := resp.Resources[1]; r.ErrorCode != kerr.InvalidRequest.Code || len(r.Configs) != 0 {
		t.Fatalf("another broker's resource: code %d, %d configs", r.ErrorCode, len(r.Configs))
	}
}

// staticView is configCluster seen from a broker whose configuration sets
// min.insync.replicas, log.retention.ms and log.segment.bytes.
func staticView(t *testing.T) View {
	v := configCluster(t).View()
	v.Static = metadata.StaticConfig{
		{Key: "log.retention.ms", Value: "7000"},
		{Key: "log.segment.bytes", Value: "4096"},
		{Key: "min.insync.replicas", Value: "2"},
	}
	return v
}

// A broker's static settings are the values of the topics that set nothing above them,
// reported as STATIC_BROKER_CONFIG under their broker-level names, and sit in the
// synonym chain between the cluster-wide default and the built-in one.
func TestDescribeConfigsStaticTopic(t *testing.T) {
	for _, version := range versions(t, 32) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.SetVersion(version)
		req.IncludeSynonyms = true
		req.Resources = []kmsg.DescribeConfigsRequestResource{configResource(kmsg.ConfigResourceTypeTopic, "orders")}
		resp := DescribeConfigs(staticView(t), viaWire(t, req))
		checkWire(t, resp)
		r := resp.Resources[0]
		for _, w := range []struct {
			name, value string
			source      kmsg.ConfigSource
			synonyms    []string
		}{
			{"min.insync.replicas", "2", kmsg.ConfigSourceStaticBrokerConfig,
				[]string{"min.insync.replicas=2@4", "min.insync.replicas=1@5"}},
			{"retention.ms", "1000", kmsg.ConfigSourceDynamicTopicConfig,
				[]string{"retention.ms=1000@1", "log.retention.ms=5000@3", "log.retention.ms=7000@4", "log.retention.ms=604800000@5"}},
			{"segment.bytes", "2048", kmsg.ConfigSourceDynamicDefaultBrokerConfig,
				[]string{"log.segment.bytes=2048@3", "log.segment.bytes=4096@4", "log.segment.bytes=1073741824@5"}},
			{"retention.bytes", "-1", kmsg.ConfigSourceDefaultConfig, []string{"log.retention.bytes=-1@5"}},
		} {
			c := findConfig(t, r, w.name)
			if *c.Value != w.value {
				t.Errorf("v%d %s = %s, want %s", version, w.name, *c.Value, w.value)
			}
			if version == 0 {
				if c.IsDefault != (w.source == kmsg.ConfigSourceDefaultConfig) {
					t.Errorf("v0 %s: is-default %v", w.name, c.IsDefault)
				}
				continue
			}
			if c.Source != w.source || !slices.Equal(synonymsOf(c), w.synonyms) {
				t.Errorf("v%d %s: source %v, synonyms %q; want %v, %q", version, w.name, c.Source, synonymsOf(c), w.source, w.synonyms)
			}
		}
	}
}

// A broker's own resource resolves each broker-level key as the broker does, its
// static settings included; the cluster default ("") is the cluster-wide layer alone.
func TestDescribeConfigsStaticBroker(t *testing.T) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.SetVersion(4)
	req.IncludeSynonyms = true
	req.Resources = []kmsg.DescribeConfigsRequestResource{
		configResource(kmsg.ConfigResourceTypeBroker, "1", "min.insync.replicas", "log.retention.ms"),
		configResource(kmsg.ConfigResourceTypeBroker, "", "min.insync.replicas", "log.retention.ms"),
	}
	resp := DescribeConfigs(staticView(t), viaWire(t, req))
	checkWire(t, resp)
	type shape struct {
		value    string
		source   kmsg.ConfigSource
		readOnly bool
		synonyms string
	}
	got := func(r kmsg.DescribeConfigsResponseResource, name string) shape {
		c := findConfig(t, r, name)
		return shape{*c.Value, c.Source, c.ReadOnly, strings.Join(synonymsOf(c), " ")}
	}
	for _, tc := range []struct {
		resource int
		name     string
		want     shape
	}{
		{0, "min.insync.replicas", shape{"2", kmsg.ConfigSourceStaticBrokerConfig, true, "min.insync.replicas=2@4 min.insync.replicas=1@5"}},
		{0, "log.retention.ms", shape{"5000", kmsg.ConfigSourceDynamicDefaultBrokerConfig, true,
			"log.retention.ms=5000@3 log.retention.ms=7000@4 log.retention.ms=604800000@5"}},
		{1, "min.insync.replicas", shape{"1", kmsg.ConfigSourceDefaultConfig, false, "min.insync.replicas=1@5"}},
		{1, "log.retention.ms", shape{"5000", kmsg.ConfigSourceDynamicDefaultBrokerConfig, false,
			"log.retention.ms=5000@3 log.retention.ms=604800000@5"}},
	} {
		if g := got(resp.Resources[tc.resource], tc.name); g != tc.want {
			t.Errorf("resource %q %s: %+v, want %+v", resp.Resources[tc.resource].ResourceName, tc.name, g, tc.want)
		}
	}
}
