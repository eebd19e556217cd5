package metadata

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ConfigType is how a config value is parsed.
type ConfigType uint8

const (
	ConfigString ConfigType = iota + 1
	ConfigInt               // 32-bit
	ConfigLong              // 64-bit
	ConfigBool
	ConfigList   // comma-separated
	ConfigDouble // a decimal number
)

// ConfigSource says where a resolved value comes from. The values are Kafka's
// DescribeConfigs source numbers.
type ConfigSource int8

const (
	SourceTopic          ConfigSource = 1 // DYNAMIC_TOPIC_CONFIG
	SourceBroker         ConfigSource = 2 // DYNAMIC_BROKER_CONFIG
	SourceClusterDefault ConfigSource = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG
	SourceStatic         ConfigSource = 4 // STATIC_BROKER_CONFIG
	SourceDefault        ConfigSource = 5 // DEFAULT_CONFIG
)

// ConfigDef describes one topic config seedlog understands. Name is the topic-level key;
// BrokerName is the key that sets the default for every topic at the cluster (resource
// "") or broker level, as in Kafka (retention.ms <- log.retention.ms).
type ConfigDef struct {
	Name       string
	BrokerName string
	Type       ConfigType
	Default    string
	Doc        string
	min        int64    // Int and Long: smallest allowed value
	maxDouble  float64  // Double: the allowed range is [0, maxDouble]
	choices    []string // String and List: allowed values (elements for List); nil means any
}

// topicConfigDefs is the one table of topic configs, sorted by Name. The controller
// validates against it and brokers list it in DescribeConfigs.
var topicConfigDefs = []ConfigDef{
	{Name: "cleanup.policy", BrokerName: "log.cleanup.policy", Type: ConfigList, Default: "delete",
		Doc: "delete: retention by time and size and DeleteRecords remove old records; compact: the log " +
			"cleaner keeps the latest record of each key (records without a key are refused with INVALID_RECORD); " +
			"compact alone: retention and DeleteRecords remove nothing (DeleteRecords answers POLICY_VIOLATION)",
		choices: []string{"compact", "delete"}},
	{Name: "compression.type", BrokerName: "compression.type", Type: ConfigString, Default: "producer",
		Doc: "producer keeps each batch as its producer compressed it; uncompressed (or none), gzip, snappy, lz4 " +
			"or zstd: the leader recompresses every batch that differs",
		choices: []string{"gzip", "lz4", "none", "producer", "snappy", "uncompressed", "zstd"}},
	{Name: "delete.retention.ms", BrokerName: "log.cleaner.delete.retention.ms", Type: ConfigLong, Default: "86400000",
		Doc: "how long a tombstone stays after the cleaner first passed it", min: 0},
	{Name: "flush.mode", BrokerName: "log.flush", Type: ConfigString, Default: "sync",
		Doc: "sync: acks wait for fsync on the ISR. async: acks wait for the page cache only, " +
			"as Kafka does by default; acknowledged records can be lost when every replica loses power",
		choices: []string{"async", "sync"}},
	{Name: "max.compaction.lag.ms", BrokerName: "log.cleaner.max.compaction.lag.ms", Type: ConfigLong,
		Default: "9223372036854775807", Doc: "a record older than this is cleaned whatever the dirty ratio", min: 1},
	{Name: "max.message.bytes", BrokerName: "message.max.bytes", Type: ConfigInt, Default: "1048588",
		Doc: "largest record batch the topic accepts", min: 0},
	{Name: "message.timestamp.after.max.ms", BrokerName: "log.message.timestamp.after.max.ms", Type: ConfigLong,
		Default: "9223372036854775807", Doc: "a record stamped more than this after the leader's clock is refused (INVALID_TIMESTAMP); CreateTime only", min: 0},
	{Name: "message.timestamp.before.max.ms", BrokerName: "log.message.timestamp.before.max.ms", Type: ConfigLong,
		Default: "9223372036854775807", Doc: "a record stamped more than this before the leader's clock is refused (INVALID_TIMESTAMP); CreateTime only", min: 0},
	{Name: "message.timestamp.type", BrokerName: "log.message.timestamp.type", Type: ConfigString,
		Default: "CreateTime", Doc: "CreateTime keeps the producer's timestamp; LogAppendTime stamps the leader's",
		choices: []string{"CreateTime", "LogAppendTime"}},
	{Name: "min.cleanable.dirty.ratio", BrokerName: "log.cleaner.min.cleanable.ratio", Type: ConfigDouble,
		Default: "0.5", Doc: "share of a compacted log that must be dirty (written since the last pass) for a pass", maxDouble: 1},
	{Name: "min.compaction.lag.ms", BrokerName: "log.cleaner.min.compaction.lag.ms", Type: ConfigLong, Default: "0",
		Doc: "a record younger than this stays uncompacted", min: 0},
	{Name: "min.insync.replicas", BrokerName: "min.insync.replicas", Type: ConfigInt, Default: "1",
		Doc: "replicas that must hold an acks=all record before it is acknowledged", min: 1},
	{Name: "retention.bytes", BrokerName: "log.retention.bytes", Type: ConfigLong, Default: "-1",
		Doc: "size per partition beyond which old segments are deleted; -1 for no limit", min: -1},
	{Name: "retention.ms", BrokerName: "log.retention.ms", Type: ConfigLong, Default: "604800000",
		Doc: "age beyond which old segments are deleted; -1 for no limit", min: -1},
	{Name: "segment.bytes", BrokerName: "log.segment.bytes", Type: ConfigInt, Default: "1073741824",
		Doc: "size at which a segment is rolled", min: 14},
	{Name: "segment.index.bytes", BrokerName: "log.index.size.max.bytes", Type: ConfigInt, Default: "10485760",
		Doc: "size at which a segment's offset or time index rolls the segment", min: 12},
	{Name: "segment.jitter.ms", BrokerName: "log.roll.jitter.ms", Type: ConfigLong, Default: "0",
		Doc: "segment.ms is shortened by up to this, by an amount fixed per partition, so that partitions do not roll at once", min: 0},
	{Name: "segment.ms", BrokerName: "log.roll.ms", Type: ConfigLong, Default: "604800000",
		Doc: "age at which a segment is rolled", min: 1},
	{Name: "unclean.leader.election.enable", BrokerName: "unclean.leader.election.enable", Type: ConfigBool,
		Default: "false", Doc: "must be false: seedlog never elects a leader from outside the ISR, " +
			"which could lose acknowledged records", choices: []string{"false"}},
}

// TopicConfigDefs returns a copy of the topic config table, sorted by Name.
func TopicConfigDefs() []ConfigDef { return slices.Clone(topicConfigDefs) }

// ReplicationThrottleConfig is the broker config that paces a leader's service of the
// replicas a reassignment adds.
const ReplicationThrottleConfig = "leader.replication.throttled.rate"

// brokerOnlyConfigDefs are the broker-level keys that set no topic default; Name and
// BrokerName are the same.
var brokerOnlyConfigDefs = []ConfigDef{
	{Name: ReplicationThrottleConfig, BrokerName: ReplicationThrottleConfig, Type: ConfigLong, Default: "9223372036854775807", min: 1,
		Doc: "bytes per second a leader sends, over all its partitions, to the replicas a reassignment is adding and that " +
			"are not yet in sync, so that a move does not starve producers (Kafka applies it to the replicas listed in " +
			"leader.replication.throttled.replicas; seedlog to every replica being added)"},
}

// BrokerConfigDefs returns every broker-level key: those that set topic defaults, then
// the broker-only ones.
func BrokerConfigDefs() []ConfigDef {
	return append(slices.Clone(topicConfigDefs), brokerOnlyConfigDefs...)
}

// refusedTopicConfigs are Kafka topic configs seedlog refuses (INVALID_CONFIG) rather
// than accept and ignore, each with why.
var refusedTopicConfigs = map[string]string{
	"file.delete.delay.ms": "seedlog removes a segment's files as soon as they leave the log: every read goes " +
		"through the broker's disk executor, so no reader can still hold a deleted segment open",
	"flush.messages":                      "use flush.mode: sync (the default) fsyncs before every acknowledgement",
	"flush.ms":                            "use flush.mode: sync (the default) fsyncs before every acknowledgement",
	"index.interval.bytes":                "the index interval is the broker's log.index.interval.bytes",
	"preallocate":                         "segments are not preallocated",
	"message.format.version":              "seedlog writes record batches of format v2 only",
	"message.downconversion.enable":       "seedlog serves record batches of format v2 only, never down-converted",
	"message.timestamp.difference.max.ms": "use message.timestamp.before.max.ms and message.timestamp.after.max.ms (KIP-937)",
	"leader.replication.throttled.replicas": "the broker config leader.replication.throttled.rate applies to every replica " +
		"a reassignment adds, without a list of replicas",
	"follower.replication.throttled.replicas": "only the leader side is throttled: the broker config " +
		"leader.replication.throttled.rate applies to every replica a reassignment adds",
	"remote.storage.enable":  "tiered storage is not supported",
	"local.retention.ms":     "tiered storage is not supported",
	"local.retention.bytes":  "tiered storage is not supported",
	"compression.gzip.level": "compression levels are not supported: batches recompressed by compression.type use each codec's default",
	"compression.lz4.level":  "compression levels are not supported: batches recompressed by compression.type use each codec's default",
	"compression.zstd.level": "compression levels are not supported: batches recompressed by compression.type use each codec's default",
}

// UnknownTopicConfig is the error text for a config key seedlog does not know: for a
// Kafka topic key it refuses, the reason.
func UnknownTopicConfig(name string) string {
	if why, ok := refusedTopicConfigs[name]; ok {
		return fmt.Sprintf("topic config %q is not supported: %s", name, why)
	}
	return fmt.Sprintf("unknown config %q", name)
}

// TopicConfigDef looks up a topic-level key.
func TopicConfigDef(name string) (ConfigDef, bool) {
	for _, d := range topicConfigDefs {
		if d.Name == name {
			return d, true
		}
	}
	return ConfigDef{}, false
}

// BrokerConfigDef looks up a broker-level key.
func BrokerConfigDef(brokerName string) (ConfigDef, bool) {
	for _, d := range BrokerConfigDefs() {
		if d.BrokerName == brokerName {
			return d, true
		}
	}
	return ConfigDef{}, false
}

// Check reports whether value is acceptable for d.
func (d ConfigDef) Check(value string) error {
	switch d.Type {
	case ConfigInt, ConfigLong:
		bits := 64
		if d.Type == ConfigInt {
			bits = 32
		}
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, bits)
		if err != nil {
			return fmt.Errorf("%s: %q is not a %d-bit integer", d.Name, value, bits)
		}
		if v < d.min {
			return fmt.Errorf("%s: %d is below the minimum %d", d.Name, v, d.min)
		}
	case ConfigDouble:
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || v != v {
			return fmt.Errorf("%s: %q is not a number", d.Name, value)
		}
		if v < 0 || v > d.maxDouble {
			return fmt.Errorf("%s: %v is outside [0, %v]", d.Name, v, d.maxDouble)
		}
	case ConfigBool:
		v := strings.ToLower(strings.TrimSpace(value))
		if v != "true" && v != "false" {
			return fmt.Errorf("%s: %q is not a boolean", d.Name, value)
		}
		if d.choices != nil && !slices.Contains(d.choices, v) {
			return fmt.Errorf("%s: %q is not supported", d.Name, value)
		}
	case ConfigString:
		if d.choices != nil && !slices.Contains(d.choices, value) {
			return fmt.Errorf("%s: %q is not one of %v", d.Name, value, d.choices)
		}
	case ConfigList:
		items := SplitList(value)
		if len(items) == 0 {
			return fmt.Errorf("%s: empty list", d.Name)
		}
		for _, it := range items {
			if d.choices != nil && !slices.Contains(d.choices, it) {
				return fmt.Errorf("%s: %q is not one of %v", d.Name, it, d.choices)
			}
		}
	}
	return nil
}

// SplitList splits a List value into its trimmed, non-empty elements.
func SplitList(value string) []string {
	var out []string
	for _, it := range strings.Split(value, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// StaticConfig is a broker's static settings of topic defaults: broker-level keys of the
// topic config table (log.retention.ms, min.insync.replicas, ...) that its configuration
// file or flags set, with their values, sorted by key. It is no part of the image: each
// broker has its own, and passes it wherever a topic config is resolved.
type StaticConfig []ConfigEntry

// Lookup returns the value of a broker-level key, if set.
func (s StaticConfig) Lookup(brokerKey string) (string, bool) {
	for _, e := range s {
		if e.Key == brokerKey {
			return e.Value, true
		}
	}
	return "", false
}

// Check reports the first entry that is not a broker-level key of the table with a
// value the key accepts, and entries out of order or set twice.
func (s StaticConfig) Check() error {
	for i, e := range s {
		d, ok := BrokerConfigDef(e.Key)
		if !ok {
			return fmt.Errorf("%s is not the broker-level key of a topic config", e.Key)
		}
		if err := d.Check(e.Value); err != nil {
			return fmt.Errorf("%s: %w", e.Key, err)
		}
		if i > 0 && s[i-1].Key >= e.Key {
			return fmt.Errorf("%s: static config keys must be sorted and set once", e.Key)
		}
	}
	return nil
}

// ConfigValue is one source of a config's value.
type ConfigValue struct {
	// Name is the key as the source spells it: the topic-level key for a topic's own
	// value, the broker-level key for every other source.
	Name   string
	Value  string
	Source ConfigSource
}

// ResolveTopicConfig returns the value of topic config key for a topic, the first of
// TopicConfigChain. ok is false for a key not in the table.
func (im Image) ResolveTopicConfig(topic, key string, static StaticConfig) (value string, source ConfigSource, ok bool) {
	d, ok := TopicConfigDef(key)
	if !ok {
		return "", 0, false
	}
	if v, set := im.topicConfigValue(topic, key); set {
		return v, SourceTopic, true
	}
	v, src := im.resolveBrokerLevel(d, static)
	return v, src, true
}

// resolveBrokerLevel is the value a topic without its own setting gets for d, and its
// source: the cluster-wide default, else the broker's static setting, else the table
// default.
func (im Image) resolveBrokerLevel(d ConfigDef, static StaticConfig) (string, ConfigSource) {
	if v, set := im.brokerConfigs[""][d.BrokerName]; set {
		return v, SourceClusterDefault
	}
	if v, set := static.Lookup(d.BrokerName); set {
		return v, SourceStatic
	}
	return d.Default, SourceDefault
}

// TopicConfigChain lists every source of topic config key for a topic, most specific
// first, which is Kafka's order of DescribeConfigs synonyms: the topic's own setting,
// the cluster-wide default (broker resource ""), the broker's static setting, the table
// default (always there). The first is the value in force. ok is false for a key not in
// the table.
func (im Image) TopicConfigChain(topic, key string, static StaticConfig) ([]ConfigValue, bool) {
	d, ok := TopicConfigDef(key)
	if !ok {
		return nil, false
	}
	var chain []ConfigValue
	if v, set := im.topicConfigValue(topic, key); set {
		chain = append(chain, ConfigValue{Name: key, Value: v, Source: SourceTopic})
	}
	return append(chain, im.brokerChain(d, static)...), true
}

// BrokerConfigChain is TopicConfigChain for a broker-level key, without a topic.
func (im Image) BrokerConfigChain(brokerKey string, static StaticConfig) ([]ConfigValue, bool) {
	d, ok := BrokerConfigDef(brokerKey)
	if !ok {
		return nil, false
	}
	return im.brokerChain(d, static), true
}

func (im Image) brokerChain(d ConfigDef, static StaticConfig) []ConfigValue {
	var chain []ConfigValue
	if v, set := im.brokerConfigs[""][d.BrokerName]; set {
		chain = append(chain, ConfigValue{Name: d.BrokerName, Value: v, Source: SourceClusterDefault})
	}
	if v, set := static.Lookup(d.BrokerName); set {
		chain = append(chain, ConfigValue{Name: d.BrokerName, Value: v, Source: SourceStatic})
	}
	return append(chain, ConfigValue{Name: d.BrokerName, Value: d.Default, Source: SourceDefault})
}
