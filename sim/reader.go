package sim

import (
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Readers are plain consumers: each keeps a position per partition and fetches from the
// leader it knows, with the leader epoch it knows (KIP-320), moving forward; now and then
// it looks up the earliest or the latest offset. Every fetch and lookup is an operation
// of the history: reads have no effect, so only those that got an answer constrain
// anything.

// reader is one reader client.
type reader struct {
	c   *Client
	pos map[TopicPartition]int64
	// busy is set while a read is out.
	busy bool
	// sessions, for a session reader (sessions.go), holds its fetch session with each
	// broker, and wanted the partitions it reads, most recent first; nil otherwise.
	sessions map[int32]*readerSession
	wanted   []TopicPartition
}

// startReader starts a reader; withSessions makes it a session reader.
func (w *World) startReader(withSessions bool) *reader {
	c := w.addClient(roleConsumer)
	c.interval = w.cfg.Data.OpInterval
	r := &reader{c: c, pos: map[TopicPartition]int64{}}
	c.desc = "a reader"
	if withSessions {
		r.sessions = map[int32]*readerSession{}
		c.desc = "a reader with fetch sessions"
	}
	c.act = r.tick
	c.onStep = r.step
	c.scheduleNext()
	return r
}

func (r *reader) tick() {
	c := r.c
	w := c.w
	if w.phase != phaseSafety || w.failure != nil {
		return
	}
	if r.busy {
		c.scheduleNext()
		return
	}
	tp, ok := c.pickPartition()
	if !ok {
		c.refreshTopics(nil)
		c.scheduleNext()
		return
	}
	r.busy = true
	st := Step{Kind: StepFetch, Client: c.id, Topic: tp.Topic, Partition: tp.Partition, MinBytes: 1}
	switch x := c.rng.IntN(10); {
	case r.deletes(tp):
		st.Kind, st.MinBytes, st.Offset = StepDeleteRecords, 0, r.pos[tp]
		if x < 3 {
			st.Offset = -1 // everything committed: lagging followers restart their logs
		}
	case x < 7:
		if c.rng.IntN(3) == 0 {
			st.MinBytes = int32(1 + c.rng.IntN(4096)) // a long poll
		}
	default:
		st.Kind, st.ListAt, st.MinBytes = StepListOffsets, -1, 0
		switch {
		case x == 9:
			st.ListAt = -2
		case x == 8 && !w.cfg.Data.NoMaxTimestampReads && c.rng.IntN(2) == 0:
			st.ListAt = -3 // the record with the largest timestamp (maxstamps.go)
		}
	}
	if s := w.script; s != nil {
		planned := s.turn(c, StepFetch, StepListOffsets, StepDeleteRecords)
		if planned == nil {
			r.busy = false
			c.scheduleNext()
			return
		}
		st = *planned
	}
	r.read(&st, true)
}

// read performs a fetch or ListOffsets step; turn says a generator's turn started it,
// and plans the next turn when it completes.
func (r *reader) read(st *Step, turn bool) {
	c := r.c
	c.w.recordStep(Step{Kind: st.Kind, Client: c.id, Topic: st.Topic, Partition: st.Partition, MinBytes: st.MinBytes, ListAt: st.ListAt, Offset: st.Offset})
	tp := TopicPartition{st.Topic, st.Partition}
	done := func() {
		r.busy = false
		if turn {
			c.scheduleNext()
		}
		if s := c.w.script; s != nil {
			s.freed(c)
		}
	}
	switch st.Kind {
	case StepFetch:
		if r.sessions != nil {
			r.sessionFetch(tp, st.MinBytes, done)
			return
		}
		c.fetchOnce(tp, r.pos[tp], st.MinBytes, func(op *Op) {
			if r.advance(tp, op) {
				// Records were deleted: look the log start up, as a consumer resetting
				// to the earliest offset does.
				r.toStart(tp, done)
				return
			}
			done()
		})
		return
	case StepDeleteRecords:
		c.deleteOnce(tp, st.Offset, func(*Op) { done() })
		return
	}
	at := st.ListAt
	c.listOnce(tp, at, func(op *Op) {
		if op.Outcome == OK && at == -2 && r.pos[tp] < op.Offset {
			r.pos[tp] = op.Offset
		}
		done()
	})
}

// advance moves the reader's position in tp past what a fetch operation read; it
// reports whether the position must be looked up at the log start (records were
// deleted below it).
func (r *reader) advance(tp TopicPartition, op *Op) bool {
	switch {
	case op.Outcome == OK:
		if n := len(op.Records); n > 0 {
			r.pos[tp] = op.Records[n-1].Offset + 1
		}
		r.pos[tp] = max(r.pos[tp], op.Next)
	case op.Code == errOffsetOutOfRange:
		r.pos[tp] = 0
		return r.c.w.cfg.Data.mayDelete(tp.Topic)
	case op.Code == errCorruptMessage:
		r.pos[tp]++ // a fenced offset: read on after it
	}
	return false
}

// step starts a scheduled read.
func (r *reader) step(st *Step) string {
	if r.busy {
		return stepBusy
	}
	r.busy = true
	r.read(st, false)
	return ""
}

// fetchOnce performs one fetch operation of tp at offset, through the leader the client
// knows (refreshing first when it knows none), and calls done with the finished
// operation.
func (c *Client) fetchOnce(tp TopicPartition, offset int64, minBytes int32, done func(*Op)) {
	w := c.w
	leader, epoch, ok := c.leaderOf(tp)
	if !ok {
		c.refreshTopics(func() {
			if _, _, ok := c.leaderOf(tp); !ok {
				c.later(dataBackoff, func() { done(&Op{Kind: OpFetch, Outcome: Failed, Code: -1}) })
				return
			}
			c.fetchOnce(tp, offset, minBytes, done)
		})
		return
	}
	op := &Op{Kind: OpFetch, Topic: tp.Topic, Partition: tp.Partition, Offset: offset, LeaderEpoch: epoch, HW: -1, Producer: -1,
		Isolation: c.isolation, LSO: -1, LogStart: -1}
	w.invoke(c, op)
	op.Node = leader
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.IsolationLevel = c.isolation
	req.MaxWaitMillis = int32(w.cfg.Data.FetchWaitMax / time.Millisecond)
	req.MinBytes = minBytes
	req.MaxBytes = int32(1 + c.rng.IntN(w.fetchBytesMax()))
	req.SessionEpoch = -1
	t := kmsg.NewFetchRequestTopic()
	t.Topic = tp.Topic
	hi := int16(12)
	if id := c.topics[tp.Topic].id; id != ([16]byte{}) {
		t.TopicID = id
		hi = 32767
	}
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = tp.Partition
	p.CurrentLeaderEpoch = epoch
	p.FetchOffset = offset
	p.LogStartOffset = -1
	p.LastFetchedEpoch = -1
	p.PartitionMaxBytes = req.MaxBytes
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	if minBytes > 1 {
		w.cov.Inc("fetch:long-poll")
	}
	timeout := w.requestTimeout() + w.cfg.Data.FetchWaitMax
	c.sendLimited(leader, req, 0, hi, timeout, func(resp kmsg.Response, err error) {
		c.fetchAnswer(op, tp, resp, err)
		done(op)
	})
}

// fetchAnswer completes a fetch operation.
func (c *Client) fetchAnswer(op *Op, tp TopicPartition, resp kmsg.Response, err error) {
	w := c.w
	if err != nil {
		// Refused, broken or timed out: the leader may be gone; learn again.
		op.Code = -1
		c.forgetLeader(tp)
		w.complete(op, Failed)
		return
	}
	r := resp.(*kmsg.FetchResponse)
	var part *kmsg.FetchResponseTopicPartition
	if r.ErrorCode == errNone && len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
		part = &r.Topics[0].Partitions[0]
	}
	if part == nil {
		op.Code = r.ErrorCode
		if op.Code == errNone {
			op.Code = errInvalidRequest
		}
		w.complete(op, Failed)
		return
	}
	c.fetchPart(op, tp, part)
}

// fetchPart completes a fetch operation of tp with the partition's answer.
func (c *Client) fetchPart(op *Op, tp TopicPartition, part *kmsg.FetchResponseTopicPartition) {
	w := c.w
	if part.LogStartOffset > 0 && !w.cfg.Data.mayDelete(tp.Topic) {
		w.fail("log-start", op.Node, "node %d answered a fetch of %s/%d with log start %d, but nothing may delete its records (%s)",
			op.Node, tp.Topic, tp.Partition, part.LogStartOffset, w.cfg.Data.keepsAllBecause(tp.Topic))
		return
	}
	switch {
	case part.ErrorCode != errNone:
		op.Code = part.ErrorCode
		if slices.Contains(staleLeaderCodes, part.ErrorCode) || part.ErrorCode == errOffsetNotAvailable {
			c.forgetLeader(tp)
		}
		w.complete(op, Failed)
		return
	}
	w.checkTimestamps(tp, part.RecordBatches)
	w.checkCompression(tp, part.RecordBatches)
	recs, batches, next, derr := w.decodeBatches(part.RecordBatches, op.Offset, op.Isolation == 1)
	if derr != nil {
		w.fail("client", op.Node, "client %d: node %d served %s/%d at %d: %v", c.id, op.Node, tp.Topic, tp.Partition, op.Offset, derr)
		return
	}
	if op.Isolation == 1 {
		op.LSO, op.LogStart = part.LastStableOffset, part.LogStartOffset
		op.Hidden = abortedOffsets(recs, batches, part.AbortedTransactions)
		for _, a := range part.AbortedTransactions {
			op.Aborted = append(op.Aborted, [2]int64{a.ProducerID, a.FirstOffset})
		}
		w.cov.Inc("read-committed-fetch")
		if len(op.Hidden) > 0 {
			w.cov.Inc("read-committed:aborted-dropped")
		}
	}
	op.HW = part.HighWatermark
	op.Records = recs
	op.Next = next
	w.cov.Inc("fetch:ok")
	if len(recs) == 0 && next > op.Offset {
		w.cov.Inc("fetch:only-empty-batches")
	}
	if len(recs) > 0 {
		w.cov.Inc("fetch:records")
	}
	w.complete(op, OK)
}

// listOnce performs one ListOffsets operation (at -2: earliest, -1: latest, -3: the
// largest timestamp, which needs v7).
func (c *Client) listOnce(tp TopicPartition, at int64, done func(*Op)) {
	w := c.w
	leader, epoch, ok := c.leaderOf(tp)
	if !ok {
		c.refreshTopics(func() {
			if _, _, ok := c.leaderOf(tp); !ok {
				c.later(dataBackoff, func() { done(&Op{Kind: OpListOffsets, Outcome: Failed, Code: -1}) })
				return
			}
			c.listOnce(tp, at, done)
		})
		return
	}
	op := &Op{Kind: OpListOffsets, Topic: tp.Topic, Partition: tp.Partition, ListAt: at, LeaderEpoch: epoch, Offset: -1, HW: -1, Producer: -1, LogStart: -1}
	if at == -1 {
		// A read_committed consumer's latest offset is the last stable offset.
		op.Isolation = c.isolation
	}
	w.invoke(c, op)
	op.Node = leader
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = op.Isolation
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = tp.Topic
	p := kmsg.NewListOffsetsRequestTopicPartition()
	p.Partition = tp.Partition
	p.CurrentLeaderEpoch = epoch
	p.Timestamp = at
	p.MaxNumOffsets = 1
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	answer := func(resp kmsg.Response, err error) {
		c.listAnswer(op, tp, resp, err)
		done(op)
	}
	if at == -3 {
		c.sendLimited(leader, req, 7, math.MaxInt16, w.requestTimeout(), answer)
		return
	}
	if op.Isolation == 1 {
		// IsolationLevel is in the request from v2 on.
		c.sendLimited(leader, req, 2, math.MaxInt16, w.requestTimeout(), answer)
		return
	}
	c.send(leader, req, w.requestTimeout(), answer)
}

func (c *Client) listAnswer(op *Op, tp TopicPartition, resp kmsg.Response, err error) {
	w := c.w
	if err != nil {
		op.Code = -1
		c.forgetLeader(tp)
		w.complete(op, Failed)
		return
	}
	r := resp.(*kmsg.ListOffsetsResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		op.Code = errInvalidRequest
		w.complete(op, Failed)
		return
	}
	part := &r.Topics[0].Partitions[0]
	if part.ErrorCode != errNone {
		op.Code = part.ErrorCode
		if slices.Contains(staleLeaderCodes, part.ErrorCode) || part.ErrorCode == errOffsetNotAvailable {
			c.forgetLeader(tp)
		}
		w.complete(op, Failed)
		return
	}
	op.Offset, op.Stamp = part.Offset, part.Timestamp
	w.cov.Inc("list-offsets:ok")
	if op.ListAt == -3 {
		w.cov.Inc("list-offsets:max-timestamp")
	}
	if op.Isolation == 1 {
		w.cov.Inc("list-offsets:read-committed")
	}
	w.complete(op, OK)
}
