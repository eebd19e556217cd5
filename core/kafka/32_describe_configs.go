package kafka

// DescribeConfigs, key 32, versions 0-4.
//
// Every value is the one this broker enforces, with its true source, resolved as Kafka
// does, from the most specific source: the topic's own setting (DYNAMIC_TOPIC_CONFIG),
// the cluster-wide default set on broker resource "" (DYNAMIC_DEFAULT_BROKER_CONFIG),
// this broker's static configuration, its file or flags (STATIC_BROKER_CONFIG, under
// the broker-level key: min.insync.replicas, log.retention.ms, ...), and the built-in
// default (DEFAULT_CONFIG). With include_synonyms (v1+) each config lists every source
// that has a value, in that order, the topic's under the topic-level key and the others
// under the broker-level key; the first is the value in force. seedlog has no
// per-broker dynamic configs (DYNAMIC_BROKER_CONFIG).
//
// Deviations from Apache Kafka:
//   - Only the configs seedlog understands are listed (metadata.TopicConfigDefs): for a
//     topic, each topic-level key; for a broker, each broker-level key that sets a topic
//     default. Kafka lists every config it has.
//   - Broker resource "" (the cluster default) lists every key with its cluster-level
//     value or its built-in default; Kafka lists only the keys set for "". A broker's
//     own id lists every key as that broker resolves it (cluster default, its static
//     setting, built-in default), read-only: seedlog takes broker-level keys for the
//     cluster default only. As in Kafka, another broker's id is INVALID_REQUEST: only
//     that broker knows its static configuration.
//   - Only topic and broker resources are served; other types are INVALID_REQUEST.
//   - A broker describing its own id adds one read-only entry that is status, not a
//     setting: seedlog.fenced.ranges (FencedRangesConfig), the offset ranges of its
//     replicas that hold no readable data. Kafka would show them in DescribeLogDirs,
//     which seedlog does not serve; Kafka's tools show a broker's own entries when asked
//     for it by id (kafka-configs.sh --describe --broker N, seedlog topic describe).
//
// Like Kafka, and unlike seedlog's Metadata, the answer comes from the broker's metadata
// image without a read barrier: a config change acknowledged a moment ago may not show
// yet. As in Kafka, an unknown topic is UNKNOWN_TOPIC_OR_PARTITION, a null ConfigNames
// asks for every key and names in it that are not configs are left out, and from v3
// every config carries its type, and its documentation when asked for. Version 0 has
// no source: IsDefault says whether the value is the built-in default.

import (
	"cmp"
	"fmt"
	"github.com/seedlog/seedlog/core/acl"
	"slices"
	"strconv"
	"strings"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeConfigs answers from the view's image.
func DescribeConfigs(v View, req *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	resp.SetVersion(req.GetVersion())
	for _, r := range req.Resources {
		resp.Resources = append(resp.Resources, describeResource(v, req, r))
	}
	return resp
}

// configEntry is one config of a resource before it takes the shape of a version.
type configEntry struct {
	name     string
	def      metadata.ConfigDef
	value    string
	source   metadata.ConfigSource
	readOnly bool
	synonyms []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
}

func describeResource(v View, req *kmsg.DescribeConfigsRequest, r kmsg.DescribeConfigsRequestResource) kmsg.DescribeConfigsResponseResource {
	out := kmsg.NewDescribeConfigsResponseResource()
	out.ResourceType, out.ResourceName = r.ResourceType, r.ResourceName
	if code := checkConfigResource(v, acl.OpDescribeConfigs, int8(r.ResourceType), r.ResourceName); code != 0 {
		return resourceError(out, code, "")
	}
	var entries []configEntry
	switch r.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if _, ok := v.Image.Topic(r.ResourceName); !ok {
			return resourceError(out, kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("unknown topic %q", r.ResourceName))
		}
		entries = topicConfigEntries(v, r.ResourceName)
	case kmsg.ConfigResourceTypeBroker:
		switch own := strconv.Itoa(int(v.NodeID)); {
		case r.ResourceName == "":
			entries = clusterConfigEntries(v)
		case r.ResourceName == own:
			entries = ownConfigEntries(v)
		case knownBrokerResource(v, r.ResourceName):
			return resourceError(out, kerr.InvalidRequest.Code, fmt.Sprintf("broker %s describes its own configs: this is broker %s", r.ResourceName, own))
		default:
			return resourceError(out, kerr.InvalidRequest.Code, fmt.Sprintf("%q is neither \"\" nor a registered broker id", r.ResourceName))
		}
	default:
		return resourceError(out, kerr.InvalidRequest.Code, fmt.Sprintf("resource type %d is not served", r.ResourceType))
	}
	for _, e := range entries {
		if r.ConfigNames == nil || slices.Contains(r.ConfigNames, e.name) {
			out.Configs = append(out.Configs, describedConfig(req, e))
		}
	}
	return out
}

func resourceError(out kmsg.DescribeConfigsResponseResource, code int16, msg string) kmsg.DescribeConfigsResponseResource {
	out.ErrorCode, out.ErrorMessage = code, &msg
	return out
}

// knownBrokerResource reports whether name is the cluster default or a registered broker.
func knownBrokerResource(v View, name string) bool {
	if name == "" {
		return true
	}
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil || metadata.BrokerResourceName(int32(id)) != name {
		return false
	}
	_, ok := v.Image.Broker(int32(id))
	return ok
}

// FencedRangesConfig names the status entry of a broker's own resource: its replicas'
// fenced ranges, "<topic>-<partition>:<from>-<to>:<damaged|lost>" joined by commas,
// empty when there are none. Damaged ranges failed their checksums on this broker's disk
// (it fetches them back from an intact leader once out of the ISR); lost ranges had no
// intact in-sync copy left: reads of them answer CORRUPT_MESSAGE for good.
const FencedRangesConfig = "seedlog.fenced.ranges"

var fencedRangesDef = metadata.ConfigDef{Name: FencedRangesConfig, Type: metadata.ConfigList,
	Doc: "status, read-only: offset ranges of this broker's replicas with no readable data, topic-partition:from-to:damaged|lost"}

func fencedRangesEntry(rs []ReplicaFences) configEntry {
	var parts []string
	for _, r := range rs {
		for _, f := range r.Fences {
			parts = append(parts, fmt.Sprintf("%s-%d:%d-%d:%s", r.Topic, r.Partition, f.From, f.To, f.Kind))
		}
	}
	return configEntry{name: FencedRangesConfig, def: fencedRangesDef, value: strings.Join(parts, ","),
		source: metadata.SourceDefault, readOnly: true}
}

// topicConfigEntries lists every topic config with the value this broker enforces.
func topicConfigEntries(v View, topic string) []configEntry {
	var entries []configEntry
	for _, d := range metadata.TopicConfigDefs() {
		chain, ok := v.Image.TopicConfigChain(topic, d.Name, v.Static)
		if !ok {
			panic(fmt.Sprintf("kafka: topic config %q of the table does not resolve", d.Name))
		}
		entries = append(entries, chainEntry(d.Name, d, chain, false))
	}
	return entries
}

// clusterConfigEntries lists every broker-level key with its cluster-wide value (or
// its built-in default), sorted by name: the layer broker resource "" sets.
func clusterConfigEntries(v View) []configEntry {
	var entries []configEntry
	for _, d := range metadata.BrokerConfigDefs() {
		chain, _ := v.Image.BrokerConfigChain(d.BrokerName, nil)
		entries = append(entries, chainEntry(d.BrokerName, d, chain, false))
	}
	return sortedEntries(entries)
}

// ownConfigEntries lists every broker-level key as this broker resolves it, read-only,
// with the status entry of its fenced ranges when it hosts replicas; sorted by name.
func ownConfigEntries(v View) []configEntry {
	var entries []configEntry
	for _, d := range metadata.BrokerConfigDefs() {
		chain, _ := v.Image.BrokerConfigChain(d.BrokerName, v.Static)
		entries = append(entries, chainEntry(d.BrokerName, d, chain, true))
	}
	if v.Fences != nil {
		entries = append(entries, fencedRangesEntry(v.Fences()))
	}
	return sortedEntries(entries)
}

// chainEntry is the entry of a config whose sources, most specific first, are chain:
// the first holds the value in force, and all are its synonyms.
func chainEntry(name string, d metadata.ConfigDef, chain []metadata.ConfigValue, readOnly bool) configEntry {
	syns := make([]kmsg.DescribeConfigsResponseResourceConfigConfigSynonym, 0, len(chain))
	for _, c := range chain {
		syns = append(syns, synonym(c.Name, c.Value, c.Source))
	}
	return configEntry{name: name, def: d, value: chain[0].Value, source: chain[0].Source, readOnly: readOnly, synonyms: syns}
}

func sortedEntries(entries []configEntry) []configEntry {
	slices.SortFunc(entries, func(a, b configEntry) int { return cmp.Compare(a.name, b.name) })
	return entries
}

func synonym(name, value string, source metadata.ConfigSource) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	s.Name, s.Value, s.Source = name, kmsg.StringPtr(value), kmsg.ConfigSource(source)
	return s
}

// describedConfig shapes an entry for the request's version and flags.
func describedConfig(req *kmsg.DescribeConfigsRequest, e configEntry) kmsg.DescribeConfigsResponseResourceConfig {
	version := req.GetVersion()
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.ReadOnly = e.name, kmsg.StringPtr(e.value), e.readOnly
	if version == 0 {
		c.IsDefault = e.source == metadata.SourceDefault
	} else {
		c.Source = kmsg.ConfigSource(e.source)
		if req.IncludeSynonyms {
			c.ConfigSynonyms = e.synonyms
		}
	}
	if version >= 3 {
		c.ConfigType = configType(e.def.Type)
		if req.IncludeDocumentation {
			c.Documentation = kmsg.StringPtr(e.def.Doc)
		}
	}
	return c
}

func configType(t metadata.ConfigType) kmsg.ConfigType {
	switch t {
	case metadata.ConfigString:
		return kmsg.ConfigTypeString
	case metadata.ConfigInt:
		return kmsg.ConfigTypeInt
	case metadata.ConfigLong:
		return kmsg.ConfigTypeLong
	case metadata.ConfigBool:
		return kmsg.ConfigTypeBoolean
	case metadata.ConfigList:
		return kmsg.ConfigTypeList
	case metadata.ConfigDouble:
		return kmsg.ConfigTypeDouble
	}
	panic(fmt.Sprintf("kafka: config type %d has no Kafka type", t))
}
