package controller

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Incremental config operations (Kafka's IncrementalAlterConfigOp).
const (
	opSet      = 0
	opDelete   = 1
	opAppend   = 2
	opSubtract = 3
	// opReplace is AlterConfigs' whole-resource replacement of one key.
	opReplace = -1
)

// Resource types (Kafka's ConfigResourceType).
const (
	resourceTopic  = 2
	resourceBroker = 4
)

// topicConfigOverrides validates CreateTopics configs against the table.
func (c *Controller) topicConfigOverrides(cfgs []kmsg.CreateTopicsRequestTopicConfig) (map[string]string, outcome) {
	out := map[string]string{}
	for _, cf := range cfgs {
		if _, dup := out[cf.Name]; dup {
			return nil, fail(errInvalidRequest, fmt.Sprintf("config %q given twice", cf.Name))
		}
		def, known := metadata.TopicConfigDef(cf.Name)
		switch {
		case !known:
			return nil, fail(errInvalidConfig, metadata.UnknownTopicConfig(cf.Name))
		case cf.Value == nil:
			return nil, fail(errInvalidConfig, fmt.Sprintf("config %q has a null value", cf.Name))
		}
		if err := c.checkConfig(cf.Name, def, *cf.Value); err != nil {
			return nil, fail(errInvalidConfig, err.Error())
		}
		out[cf.Name] = *cf.Value
	}
	return out, ok()
}

// describeNewTopicConfigs lists every topic config of a topic created with overrides,
// with its value and where the value comes from.
func (c *Controller) describeNewTopicConfigs(overrides map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	cluster := map[string]string{}
	for _, e := range c.pending.BrokerConfig("") {
		cluster[e.Key] = e.Value
	}
	var out []kmsg.CreateTopicsResponseTopicConfig
	for _, d := range metadata.TopicConfigDefs() {
		cf := kmsg.NewCreateTopicsResponseTopicConfig()
		cf.Name = d.Name
		value, source := d.Default, metadata.SourceDefault
		if v, set := cluster[d.BrokerName]; set {
			value, source = v, metadata.SourceClusterDefault
		}
		if v, set := overrides[d.Name]; set {
			value, source = v, metadata.SourceTopic
		}
		cf.Value, cf.Source = &value, int8(source)
		out = append(out, cf)
	}
	return out
}

// configOp is one key change of IncrementalAlterConfigs or AlterConfigs.
type configOp struct {
	key   string
	op    int8
	value *string
}

func (c *Controller) incrementalAlterConfigs(p Proposer, m *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	resp.Version = m.Version
	listed := resourcesListed(len(m.Resources), func(i int) (int8, string) {
		return int8(m.Resources[i].ResourceType), m.Resources[i].ResourceName
	})
	b := &budget{RequestRecordsMax}
	for _, r := range m.Resources {
		var ops []configOp
		for _, cf := range r.Configs {
			ops = append(ops, configOp{key: cf.Name, op: int8(cf.Op), value: cf.Value})
		}
		out := c.alterResource(p, b, int8(r.ResourceType), r.ResourceName, ops, false, m.ValidateOnly, listed)
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		rr.ErrorCode, rr.ErrorMessage = out.code, out.message()
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func (c *Controller) alterConfigs(p Proposer, m *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := kmsg.NewPtrAlterConfigsResponse()
	resp.Version = m.Version
	listed := resourcesListed(len(m.Resources), func(i int) (int8, string) {
		return int8(m.Resources[i].ResourceType), m.Resources[i].ResourceName
	})
	b := &budget{RequestRecordsMax}
	for _, r := range m.Resources {
		var ops []configOp
		for _, cf := range r.Configs {
			ops = append(ops, configOp{key: cf.Name, op: opReplace, value: cf.Value})
		}
		out := c.alterResource(p, b, int8(r.ResourceType), r.ResourceName, ops, true, m.ValidateOnly, listed)
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		rr.ErrorCode, rr.ErrorMessage = out.code, out.message()
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

type resourceKey struct {
	typ  int8
	name string
}

func resourcesListed(n int, at func(int) (int8, string)) map[resourceKey]int {
	listed := map[resourceKey]int{}
	for i := range n {
		typ, name := at(i)
		listed[resourceKey{typ, name}]++
	}
	return listed
}

// alterResource validates and proposes the config changes of one resource, all or none.
// replace drops the keys ops do not mention (AlterConfigs).
func (c *Controller) alterResource(p Proposer, b *budget, typ int8, name string, ops []configOp,
	replace, validateOnly bool, listed map[resourceKey]int) outcome {
	if listed[resourceKey{typ, name}] > 1 {
		return fail(errInvalidRequest, "resource listed more than once")
	}
	res, lookup, out := c.configResource(typ, name)
	if out.failed() {
		return out
	}
	current := map[string]string{}
	for _, e := range c.currentConfig(res, name) {
		current[e.Key] = e.Value
	}
	next, out := c.applyConfigOps(current, ops, lookup, replace)
	if out.failed() || validateOnly {
		return out
	}
	var recs []metadata.Record
	for _, k := range sortedKeys(current) {
		if _, keep := next[k]; !keep {
			recs = append(recs, metadata.Config{Resource: res, Name: name, Key: k, Delete: true})
		}
	}
	for _, k := range sortedKeys(next) {
		if v, had := current[k]; !had || v != next[k] {
			recs = append(recs, metadata.Config{Resource: res, Name: name, Key: k, Value: next[k]})
		}
	}
	return c.spend(p, b, recs)
}

// configResource resolves a resource to its record type and the table lookup for its
// keys. Broker-level keys are accepted for the cluster default (name "") only: seedlog
// resolves topic configs cluster-wide, and a per-broker default would be ignored.
func (c *Controller) configResource(typ int8, name string) (metadata.ConfigResource, func(string) (metadata.ConfigDef, bool), outcome) {
	switch typ {
	case resourceTopic:
		if _, found := c.pending.Topic(name); !found {
			return 0, nil, fail(errUnknownTopicOrPartition, fmt.Sprintf("unknown topic %q", name))
		}
		return metadata.ConfigTopic, metadata.TopicConfigDef, ok()
	case resourceBroker:
		if name != "" {
			return 0, nil, fail(errInvalidRequest, "only the cluster default (empty broker name) takes broker configs")
		}
		return metadata.ConfigBroker, metadata.BrokerConfigDef, ok()
	}
	return 0, nil, fail(errInvalidRequest, fmt.Sprintf("unsupported resource type %d", typ))
}

func (c *Controller) currentConfig(res metadata.ConfigResource, name string) []metadata.ConfigEntry {
	if res == metadata.ConfigTopic {
		return c.pending.TopicConfig(name)
	}
	return c.pending.BrokerConfig(name)
}

// applyConfigOps returns the keys of a resource after ops, validating every value.
func (c *Controller) applyConfigOps(current map[string]string, ops []configOp, lookup func(string) (metadata.ConfigDef, bool),
	replace bool) (map[string]string, outcome) {
	next := map[string]string{}
	if !replace {
		for k, v := range current {
			next[k] = v
		}
	}
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op.key] {
			return nil, fail(errInvalidRequest, fmt.Sprintf("config %q given twice", op.key))
		}
		seen[op.key] = true
		def, known := lookup(op.key)
		if !known {
			return nil, fail(errInvalidConfig, metadata.UnknownTopicConfig(op.key))
		}
		if out := c.applyConfigOp(next, def, op); out.failed() {
			return nil, out
		}
	}
	return next, ok()
}

func (c *Controller) applyConfigOp(next map[string]string, def metadata.ConfigDef, op configOp) outcome {
	if op.op == opDelete {
		delete(next, op.key)
		return ok()
	}
	if op.value == nil {
		return fail(errInvalidConfig, fmt.Sprintf("config %q has a null value", op.key))
	}
	value := *op.value
	switch op.op {
	case opSet, opReplace:
	case opAppend, opSubtract:
		if def.Type != metadata.ConfigList {
			return fail(errInvalidConfig, fmt.Sprintf("config %q is not a list", op.key))
		}
		value = editList(next, def, op)
	default:
		return fail(errInvalidRequest, fmt.Sprintf("unknown operation %d", op.op))
	}
	if err := c.checkConfig(op.key, def, value); err != nil {
		return fail(errInvalidConfig, err.Error())
	}
	next[op.key] = value
	return ok()
}

// checkConfig checks the value of key (def's topic or broker name) against the table and
// against this broker's ceilings: a max.message.bytes above message.max.bytes would let
// a client make a partition decompress that much on the node's loop.
func (c *Controller) checkConfig(key string, def metadata.ConfigDef, value string) error {
	if err := def.Check(value); err != nil {
		return err
	}
	if def.Name != "max.message.bytes" {
		return nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 32)
	if ceiling := c.cfg.messageBytesMax(); err == nil && v > int64(ceiling) {
		return fmt.Errorf("%s=%d exceeds the broker ceiling message.max.bytes=%d", key, v, ceiling)
	}
	return nil
}

// editList appends or subtracts list elements, starting from the current value or the
// table default.
func editList(next map[string]string, def metadata.ConfigDef, op configOp) string {
	base, set := next[op.key]
	if !set {
		base = def.Default
	}
	items := metadata.SplitList(base)
	for _, it := range metadata.SplitList(*op.value) {
		has := slices.Contains(items, it)
		if op.op == opAppend && !has {
			items = append(items, it)
		}
		if op.op == opSubtract && has {
			items = slices.DeleteFunc(items, func(s string) bool { return s == it })
		}
	}
	return strings.Join(items, ",")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
