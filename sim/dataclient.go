package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// What data clients know of topics, learned from Metadata as real clients learn it:
// each partition's leader and leader epoch, each topic's id. A client sends a
// partition's requests to the leader it knows and refreshes on the errors that say it
// is wrong (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH, ...).

// topicMeta is what a client knows of one topic.
type topicMeta struct {
	id    [16]byte
	parts []partMeta
}

// partMeta is what a client knows of one partition.
type partMeta struct {
	leader   int32 // -1 when unknown
	epoch    int32 // -1 when unknown (Metadata before v7)
	replicas []int32
}

// dataBackoff is the pause of a data client after an error, before it tries again.
const dataBackoff = 50 * time.Millisecond

// leaderOf returns the leader a client knows for a partition and its epoch.
func (c *Client) leaderOf(tp TopicPartition) (int32, int32, bool) {
	t := c.topics[tp.Topic]
	if t == nil || tp.Partition < 0 || int(tp.Partition) >= len(t.parts) {
		return -1, -1, false
	}
	p := t.parts[tp.Partition]
	return p.leader, p.epoch, p.leader > 0
}

// partitions returns how many partitions the client knows topic has (0 when unknown).
func (c *Client) partitions(topic string) int32 {
	if t := c.topics[topic]; t != nil {
		return int32(len(t.parts))
	}
	return 0
}

// refreshTopics asks a broker for the data topics' partitions; cb runs after, whatever
// happened. Concurrent refreshes share one request.
func (c *Client) refreshTopics(cb func()) {
	if cb != nil {
		c.refreshWaiters = append(c.refreshWaiters, cb)
	}
	if c.refreshing {
		return
	}
	c.refreshing = true
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range append(c.w.dataTopicNames(), c.extraTopics...) {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	c.send(c.randomBroker(), req, c.w.requestTimeout(), func(resp kmsg.Response, err error) {
		c.refreshing = false
		if err == nil {
			r := resp.(*kmsg.MetadataResponse)
			c.learn(r)
			c.learnTopics(r)
		}
		waiters := c.refreshWaiters
		c.refreshWaiters = nil
		for _, fn := range waiters {
			fn()
		}
	})
}

// learnTopics updates partition leaders from a Metadata response. A response answered
// without the controller's confirmation (REQUEST_TIMED_OUT on every topic) says nothing.
func (c *Client) learnTopics(r *kmsg.MetadataResponse) {
	if c.topics == nil {
		c.topics = map[string]*topicMeta{}
	}
	for _, t := range r.Topics {
		if t.Topic == nil {
			continue
		}
		switch t.ErrorCode {
		case errNone:
		case errUnknownTopicOrPartition:
			delete(c.topics, *t.Topic)
			continue
		default:
			continue
		}
		tm := &topicMeta{id: t.TopicID}
		for _, p := range t.Partitions {
			if p.Partition < 0 || int(p.Partition) >= len(t.Partitions) {
				c.w.fail("client", -1, "client %d: metadata names partition %d of %s among %d", c.id, p.Partition, *t.Topic, len(t.Partitions))
				return
			}
		}
		tm.parts = make([]partMeta, len(t.Partitions))
		for _, p := range t.Partitions {
			epoch := int32(-1)
			if r.GetVersion() >= 7 {
				epoch = p.LeaderEpoch
			}
			leader := p.Leader
			if c.w.node(leader) == nil {
				leader = -1
			}
			tm.parts[p.Partition] = partMeta{leader: leader, epoch: epoch, replicas: p.Replicas}
		}
		if old := c.topics[*t.Topic]; old != nil && len(old.parts) > len(tm.parts) {
			// Partitions are never removed: an answer with fewer comes from a broker whose
			// image lags (the barrier passed, but a newer create-partitions committed since).
			continue
		}
		c.topics[*t.Topic] = tm
	}
}

// forgetLeader drops what the client knows of a partition's leader, so that the next
// request waits for a refresh.
func (c *Client) forgetLeader(tp TopicPartition) {
	if t := c.topics[tp.Topic]; t != nil && int(tp.Partition) < len(t.parts) {
		t.parts[tp.Partition] = partMeta{leader: -1, epoch: -1}
	}
}

// dataTopicNames lists the data topics, in configuration order.
func (w *World) dataTopicNames() []string {
	names := make([]string, 0, len(w.cfg.Data.Topics))
	for _, t := range w.cfg.Data.Topics {
		names = append(names, t.Name)
	}
	return names
}

// knownPartitions lists every data partition the client knows, in order.
func (c *Client) knownPartitions(topics []string) []TopicPartition {
	var out []TopicPartition
	for _, t := range topics {
		for p := range c.partitions(t) {
			out = append(out, TopicPartition{t, p})
		}
	}
	return out
}

// pickPartition draws one of the data partitions the client knows, each as likely, as
// an index into knownPartitions would, without building the list; ok is false, and
// nothing is drawn, when it knows none.
func (c *Client) pickPartition() (tp TopicPartition, ok bool) {
	topics := c.w.cfg.Data.Topics
	known := 0
	for _, t := range topics {
		known += int(c.partitions(t.Name))
	}
	if known == 0 {
		return TopicPartition{}, false
	}
	i := int32(c.rng.IntN(known))
	for _, t := range topics {
		if n := c.partitions(t.Name); i >= n {
			i -= n
		} else {
			return TopicPartition{t.Name, i}, true
		}
	}
	panic("sim: a partition drawn beyond the known ones")
}

// errCorruptBatch says a broker served a batch that fails its checks.
var errCorruptBatch = errors.New("corrupt batch")

// decodeRecords returns the records of the batches b at or after offset from, in order,
// and the offset after the last batch. A short batch at the end is left out (Kafka's
// fetch may end in a partial batch); a batch failing its CRC or its record checks is an
// error: a broker must never serve one (promise 6).
func (w *World) decodeRecords(b []byte, from int64) ([]LogRecord, int64, error) {
	var out []LogRecord
	next := from
	_, err := record.Split(b, func(h record.Header, batch []byte) error {
		if h.IsControl() {
			next = max(next, h.NextOffset())
			return nil
		}
		it, err := w.coder.NewIter(batch, record.BatchSizeMaxDef*4)
		if err != nil {
			return err
		}
		for it.Next() {
			if off := it.Offset(); off >= from {
				out = append(out, LogRecord{Offset: off, Value: recordName(it.Record())})
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		next = max(next, h.NextOffset())
		return nil
	})
	if err != nil && !errors.Is(err, record.ErrShort) {
		return nil, next, fmt.Errorf("%w: %v", errCorruptBatch, err)
	}
	return out, next, nil
}

// valuesOf returns the record values as byte slices for a batch.
func valuesOf(values []string) []kmsg.Record {
	recs := make([]kmsg.Record, len(values))
	for i, v := range values {
		recs[i].Value = []byte(v)
	}
	return recs
}

// sortedPartitions sorts partitions by topic then number.
func sortedPartitions(tps []TopicPartition) {
	slices.SortFunc(tps, compareTP)
}

func compareTP(a, b TopicPartition) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	return int(a.Partition - b.Partition)
}

// Positions in the v2 batch header (Kafka's layout) that buildBatch rewrites when it
// compresses: the batch length after the base offset and length fields, and the
// attributes.
const (
	batchLengthPos     = 8
	batchLengthEnd     = 12
	batchAttributesPos = 21
)

// buildBatch builds a producer's batch of values. It compresses with the world's Coder:
// record.Build would set up a fresh codec for every batch, which for zstd costs more
// than everything else a batch takes.
func (w *World) buildBatch(spec record.Spec, values []string) ([]byte, error) {
	return w.buildRecords(spec, valuesOf(values))
}

// buildRecords is buildBatch for records already made.
func (w *World) buildRecords(spec record.Spec, recs []kmsg.Record) ([]byte, error) {
	codec := spec.Codec
	spec.Codec = record.CodecNone
	plain, err := record.Build(spec, recs)
	if err != nil || codec == record.CodecNone {
		return plain, err
	}
	body, err := w.coder.Compress(codec, plain[record.HeaderSize:])
	if err != nil {
		return nil, err
	}
	b := make([]byte, record.HeaderSize, record.HeaderSize+len(body))
	copy(b, plain[:record.HeaderSize])
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[batchLengthPos:], uint32(len(b)-batchLengthEnd))
	attrs := binary.BigEndian.Uint16(b[batchAttributesPos:])
	binary.BigEndian.PutUint16(b[batchAttributesPos:], attrs&^record.AttrCodecMask|uint16(codec))
	record.SetCRC(b)
	return b, nil
}
