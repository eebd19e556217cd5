package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
// error: a broker must never serve one (promise 6). A transaction marker (a control
// batch) comes back as one record flagged Control, whose value names it (markerValue),
// so that offsets stay dense and every read agrees with the final read about it.
func (w *World) decodeRecords(b []byte, from int64) ([]LogRecord, int64, error) {
	recs, _, next, err := w.decodeBatches(b, from, false)
	return recs, next, err
}

// fetchedBatch is what a read_committed reader needs of one batch it was served: its
// offsets, its producer, its kind, and where its records sit in the decoded list.
type fetchedBatch struct {
	last     int64
	producer int64
	txn      bool
	control  bool
	abort    bool // a control batch holding an abort marker
	from, to int  // its records in the decoded list
}

// decodeBatches is decodeRecords that also describes each batch when batches is set.
func (w *World) decodeBatches(b []byte, from int64, batches bool) ([]LogRecord, []fetchedBatch, int64, error) {
	var out []LogRecord
	var described []fetchedBatch
	next := from
	_, err := record.Split(b, func(h record.Header, batch []byte) error {
		it, err := w.coder.NewIter(batch, record.BatchSizeMaxDef*4)
		if err != nil {
			return err
		}
		fb := fetchedBatch{last: h.LastOffset(), producer: h.ProducerID, txn: h.IsTransactional(), control: h.IsControl(), from: len(out)}
		for it.Next() {
			off := it.Offset()
			if off < from {
				continue
			}
			if !h.IsControl() {
				out = append(out, LogRecord{Offset: off, Value: recordName(it.Record())})
				continue
			}
			r := it.Record()
			key, kerr := record.ParseControlKey(r.Key)
			if kerr != nil {
				return kerr
			}
			fb.abort = fb.abort || key.Type == record.ControlAbort
			out = append(out, LogRecord{Offset: off, Value: markerValue(key.Type, h.ProducerID, h.ProducerEpoch), Control: true})
		}
		if err := it.Err(); err != nil {
			return err
		}
		fb.to = len(out)
		if batches {
			described = append(described, fb)
		}
		next = max(next, h.NextOffset())
		return nil
	})
	if err != nil && !errors.Is(err, record.ErrShort) {
		return nil, nil, next, fmt.Errorf("%w: %v", errCorruptBatch, err)
	}
	return out, described, next, nil
}

// markerPrefix begins the value of every marker record; no producer's value does.
const markerPrefix = "marker:"

// markerValue names a transaction marker of a producer id and epoch:
// "marker:commit:<pid>:<epoch>" or "marker:abort:<pid>:<epoch>".
func markerValue(t record.ControlType, pid int64, epoch int16) string {
	return markerPrefix + t.String() + ":" + strconv.FormatInt(pid, 10) + ":" + strconv.Itoa(int(epoch))
}

// parseMarker reads a marker's value back: commit or not, the producer id and epoch.
func parseMarker(v string) (commit bool, pid int64, epoch int16, ok bool) {
	rest, found := strings.CutPrefix(v, markerPrefix)
	if !found {
		return false, 0, 0, false
	}
	kind, rest, _ := strings.Cut(rest, ":")
	ps, es, _ := strings.Cut(rest, ":")
	p, err1 := strconv.ParseInt(ps, 10, 64)
	e, err2 := strconv.ParseInt(es, 10, 16)
	if err1 != nil || err2 != nil || (kind != "commit" && kind != "abort") {
		return false, 0, 0, false
	}
	return kind == "commit", p, int16(e), true
}

// isMarker reports whether a value read names a marker.
func isMarker(v string) bool { return strings.HasPrefix(v, markerPrefix) }

// abortedOffsets returns the offsets of the data records a read_committed consumer
// drops from batches it was served, given the aborted transactions the answer listed,
// as Kafka's consumers do: walking the batches in order, a producer joins the aborted
// set once the first offset of one of its aborted transactions is at or below the
// batch's last offset, leaves it at its abort marker, and its transactional data
// batches are dropped while it is in the set.
func abortedOffsets(recs []LogRecord, batches []fetchedBatch, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) []int64 {
	pending := slices.Clone(aborted)
	slices.SortStableFunc(pending, func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) int {
		return cmpInt64(a.FirstOffset, b.FirstOffset)
	})
	inSet := map[int64]bool{}
	var out []int64
	for _, b := range batches {
		if b.producer < 0 || !b.txn {
			continue
		}
		for len(pending) > 0 && pending[0].FirstOffset <= b.last {
			inSet[pending[0].ProducerID] = true
			pending = pending[1:]
		}
		switch {
		case b.control && b.abort:
			delete(inSet, b.producer)
		case !b.control && inSet[b.producer]:
			for _, r := range recs[b.from:b.to] {
				out = append(out, r.Offset)
			}
		}
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
