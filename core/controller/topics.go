package controller

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// budget counts the records one request may still propose (RequestRecordsMax).
type budget struct{ left int }

// spend proposes recs if the budget allows, and says what the item is told.
func (c *Controller) spend(p Proposer, b *budget, recs []metadata.Record) outcome {
	if len(recs) > b.left {
		return fail(errThrottlingQuotaExceeded, "request proposes too many records; retry the rest")
	}
	b.left -= len(recs)
	return proposeOutcome(c.propose(p, recs))
}

// topicPlan is a validated topic creation.
type topicPlan struct {
	id        [16]byte
	replicas  [][]int32
	overrides map[string]string
	records   []metadata.Record
}

func (c *Controller) createTopics(p Proposer, m *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := kmsg.NewPtrCreateTopicsResponse()
	resp.Version = m.Version
	listed := map[string]int{}
	for _, t := range m.Topics {
		listed[t.Topic]++
	}
	b := &budget{RequestRecordsMax}
	load := &brokerLoad{c: c}
	for _, t := range m.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t.Topic, -1, -1
		var plan topicPlan
		out := fail(errInvalidRequest, "topic listed more than once")
		if listed[t.Topic] == 1 {
			plan, out = c.planTopic(t, m.ValidateOnly)
		}
		if !out.failed() {
			out = load.fits(plan.replicas)
		}
		if !out.failed() && !m.ValidateOnly {
			out = c.spend(p, b, plan.records)
		}
		if !out.failed() {
			// A validate-only request is judged as the request would be: its later
			// topics count the replicas of the earlier ones.
			load.add(plan.replicas)
			rt.TopicID = plan.id
			rt.NumPartitions = int32(len(plan.replicas))
			rt.ReplicationFactor = int16(len(plan.replicas[0]))
			rt.Configs = c.describeNewTopicConfigs(plan.overrides)
		}
		rt.ErrorCode, rt.ErrorMessage = out.code, out.message()
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// planTopic validates one topic creation against the pending image and builds its
// records: Topic, then Partitions (leader the first replica, ISR the replicas, epochs
// zero), then Configs by key.
func (c *Controller) planTopic(t kmsg.CreateTopicsRequestTopic, validateOnly bool) (topicPlan, outcome) {
	if err := metadata.ValidTopicName(t.Topic); err != nil {
		return topicPlan{}, fail(errInvalidTopicException, err.Error())
	}
	if _, exists := c.pending.Topic(t.Topic); exists {
		return topicPlan{}, fail(errTopicAlreadyExists, fmt.Sprintf("topic %q already exists", t.Topic))
	}
	if other := c.collidingTopic(t.Topic); other != "" {
		return topicPlan{}, fail(errInvalidTopicException,
			fmt.Sprintf("topic %q collides with %q: names differing only in '.' and '_' are not allowed", t.Topic, other))
	}
	overrides, out := c.topicConfigOverrides(t.Configs)
	if out.failed() {
		return topicPlan{}, out
	}
	replicas, out := c.topicReplicas(t, len(overrides))
	if out.failed() {
		return topicPlan{}, out
	}
	plan := topicPlan{replicas: replicas, overrides: overrides}
	if validateOnly {
		return plan, ok()
	}
	plan.id = c.newTopicID()
	plan.records = append(plan.records, metadata.Topic{Name: t.Topic, ID: plan.id})
	plan.records = append(plan.records, c.partitionRecords(plan.id, 0, replicas)...)
	for _, k := range sortedKeys(overrides) {
		plan.records = append(plan.records, metadata.Config{Resource: metadata.ConfigTopic, Name: t.Topic, Key: k, Value: overrides[k]})
	}
	return plan, ok()
}

// collidingTopic returns an existing topic whose name differs from name only in '.'
// versus '_'. Kafka merely warns; seedlog refuses, because metric names would clash.
func (c *Controller) collidingTopic(name string) string {
	if !strings.ContainsAny(name, "._") {
		return ""
	}
	key := metadata.CollisionKey(name)
	for _, t := range c.pending.Topics() {
		if t.Name != name && metadata.CollisionKey(t.Name) == key {
			return t.Name
		}
	}
	return ""
}

// topicReplicas returns the replicas of each partition: the manual assignment, or a
// placement over the eligible brokers.
func (c *Controller) topicReplicas(t kmsg.CreateTopicsRequestTopic, configCount int) ([][]int32, outcome) {
	recordsLeft := c.proposalMax - 1 - configCount
	if len(t.ReplicaAssignment) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return nil, fail(errInvalidRequest, "a replica assignment needs partitions and replication factor -1")
		}
		if len(t.ReplicaAssignment) > recordsLeft {
			return nil, fail(errInvalidPartitions, fmt.Sprintf("more than %d partitions", recordsLeft))
		}
		return c.manualAssignment(t.ReplicaAssignment)
	}
	n := t.NumPartitions
	if n == -1 {
		n = c.cfg.DefaultPartitions
	}
	if n < 1 || int(n) > recordsLeft {
		return nil, fail(errInvalidPartitions, fmt.Sprintf("partitions %d outside 1..%d", n, recordsLeft))
	}
	rf := int32(t.ReplicationFactor)
	if rf == -1 {
		rf = c.cfg.DefaultReplicationFactor
	}
	return c.placeReplicas(int(n), rf)
}

func (c *Controller) placeReplicas(n int, rf int32) ([][]int32, outcome) {
	eligible := c.eligibleBrokers()
	if rf < 1 || rf > metadata.ReplicasMax || int(rf) > len(eligible) {
		return nil, fail(errInvalidReplicationFactor,
			fmt.Sprintf("replication factor %d, with %d brokers available", rf, len(eligible)))
	}
	return place(c.cfg.Rand, eligible, n, int(rf)), ok()
}

func (c *Controller) manualAssignment(as []kmsg.CreateTopicsRequestTopicReplicaAssignment) ([][]int32, outcome) {
	replicas := make([][]int32, len(as))
	for _, a := range as {
		if a.Partition < 0 || int(a.Partition) >= len(as) || replicas[a.Partition] != nil {
			return nil, fail(errInvalidReplicaAssignment, fmt.Sprintf("partitions must be 0..%d, each once", len(as)-1))
		}
		if out := c.checkManualReplicas(a.Replicas, len(as[0].Replicas)); out.failed() {
			return nil, out
		}
		replicas[a.Partition] = slices.Clone(a.Replicas)
	}
	return replicas, ok()
}

// checkManualReplicas checks one partition of a manual assignment: rf distinct
// registered brokers, at least one of them eligible to lead.
func (c *Controller) checkManualReplicas(replicas []int32, rf int) outcome {
	if len(replicas) == 0 || len(replicas) != rf || rf > metadata.ReplicasMax {
		return fail(errInvalidReplicaAssignment, fmt.Sprintf("replicas %v: want %d, the same for every partition", replicas, rf))
	}
	eligible := 0
	for i, id := range replicas {
		if _, ok := c.pending.Broker(id); !ok {
			return fail(errInvalidReplicaAssignment, fmt.Sprintf("broker %d is not registered", id))
		}
		if slices.Contains(replicas[:i], id) {
			return fail(errInvalidReplicaAssignment, fmt.Sprintf("broker %d listed twice", id))
		}
		if !c.leaving(id) {
			eligible++
		}
	}
	if eligible == 0 {
		return fail(errInvalidReplicaAssignment, fmt.Sprintf("replicas %v are all fenced or shutting down", replicas))
	}
	return ok()
}

// partitionRecords builds Partition records numbered from first. The ISR is the
// replicas that are not leaving, and the leader the first of them.
func (c *Controller) partitionRecords(id [16]byte, first int32, replicas [][]int32) []metadata.Record {
	recs := make([]metadata.Record, len(replicas))
	for i, rs := range replicas {
		isr := slices.DeleteFunc(slices.Clone(rs), c.leaving)
		recs[i] = metadata.Partition{TopicID: id, Partition: first + int32(i), Replicas: rs, ISR: isr, Leader: isr[0]}
	}
	return recs
}

// newTopicID draws a random id that is neither zero nor in use.
func (c *Controller) newTopicID() [16]byte {
	for {
		var id [16]byte
		binary.BigEndian.PutUint64(id[:8], c.cfg.Rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], c.cfg.Rand.Uint64())
		if _, used := c.pending.TopicByID(id); id != ([16]byte{}) && !used {
			return id
		}
	}
}

func (c *Controller) deleteTopics(p Proposer, m *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := kmsg.NewPtrDeleteTopicsResponse()
	resp.Version = m.Version
	items := m.Topics
	if m.Version < 6 {
		items = nil
		for _, name := range m.TopicNames {
			items = append(items, kmsg.DeleteTopicsRequestTopic{Topic: &name})
		}
	}
	b := &budget{RequestRecordsMax}
	for _, it := range items {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		info, out := c.deletedTopic(it)
		rt.Topic, rt.TopicID = it.Topic, it.TopicID
		if !out.failed() && metadata.InternalTopic(info.Name) && !c.cfg.Plants.On(plant.InternalTopicChangeable) {
			out = refuseInternal(info.Name, "cannot be deleted: it holds the committed offsets of every group")
		}
		if !out.failed() {
			name := info.Name
			rt.Topic, rt.TopicID = &name, info.ID
			out = c.spend(p, b, []metadata.Record{metadata.RemoveTopic{TopicID: info.ID}})
		}
		rt.ErrorCode, rt.ErrorMessage = out.code, out.message()
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// deletedTopic resolves a DeleteTopics item: by id when one is given, else by name.
func (c *Controller) deletedTopic(it kmsg.DeleteTopicsRequestTopic) (metadata.TopicInfo, outcome) {
	if it.TopicID != ([16]byte{}) {
		info, found := c.pending.TopicByID(it.TopicID)
		if !found {
			return info, fail(errUnknownTopicID, "")
		}
		return info, ok()
	}
	if it.Topic == nil {
		return metadata.TopicInfo{}, fail(errInvalidRequest, "neither a topic name nor an id")
	}
	info, found := c.pending.Topic(*it.Topic)
	if !found {
		return info, fail(errUnknownTopicOrPartition, "")
	}
	return info, ok()
}

// refuseInternal refuses a change to a topic the brokers made for themselves; why says
// what the change would break.
func refuseInternal(name, why string) outcome {
	return fail(errInvalidRequest, fmt.Sprintf("topic %q is internal and %s", name, why))
}

func (c *Controller) createPartitions(p Proposer, m *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := kmsg.NewPtrCreatePartitionsResponse()
	resp.Version = m.Version
	listed := map[string]int{}
	for _, t := range m.Topics {
		listed[t.Topic]++
	}
	b := &budget{RequestRecordsMax}
	load := &brokerLoad{c: c}
	for _, t := range m.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		out := fail(errInvalidRequest, "topic listed more than once")
		var recs []metadata.Record
		var replicas [][]int32
		if listed[t.Topic] == 1 {
			recs, replicas, out = c.planPartitions(t)
		}
		if !out.failed() {
			out = load.fits(replicas)
		}
		if !out.failed() && !m.ValidateOnly {
			out = c.spend(p, b, recs)
		}
		if !out.failed() {
			load.add(replicas)
		}
		rt.ErrorCode, rt.ErrorMessage = out.code, out.message()
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// planPartitions validates adding partitions to a topic and builds their records; it
// also returns their replicas.
func (c *Controller) planPartitions(t kmsg.CreatePartitionsRequestTopic) ([]metadata.Record, [][]int32, outcome) {
	info, found := c.pending.Topic(t.Topic)
	if !found {
		return nil, nil, fail(errUnknownTopicOrPartition, "")
	}
	if metadata.InternalTopic(t.Topic) && !c.cfg.Plants.On(plant.InternalTopicChangeable) {
		return nil, nil, refuseInternal(t.Topic, "keeps its partition count: each group's offsets live on the partition its name maps to")
	}
	if t.Count <= info.Partitions {
		return nil, nil, fail(errInvalidPartitions, fmt.Sprintf("topic has %d partitions; the count can only grow", info.Partitions))
	}
	add := int(t.Count - info.Partitions)
	if add > c.proposalMax {
		return nil, nil, fail(errInvalidPartitions, fmt.Sprintf("more than %d new partitions at once", c.proposalMax))
	}
	rf := c.cfg.DefaultReplicationFactor
	if p0, ok := c.pending.Partition(info.ID, 0); ok {
		rf = int32(len(p0.Replicas))
	}
	var replicas [][]int32
	if len(t.Assignment) > 0 {
		if len(t.Assignment) != add {
			return nil, nil, fail(errInvalidReplicaAssignment, fmt.Sprintf("%d assignments for %d new partitions", len(t.Assignment), add))
		}
		for _, a := range t.Assignment {
			if out := c.checkManualReplicas(a.Replicas, int(rf)); out.failed() {
				return nil, nil, out
			}
			replicas = append(replicas, slices.Clone(a.Replicas))
		}
	} else {
		var out outcome
		if replicas, out = c.placeReplicas(add, rf); out.failed() {
			return nil, nil, out
		}
	}
	return c.partitionRecords(info.ID, info.Partitions, replicas), replicas, ok()
}
