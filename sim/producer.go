package sim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Producers send real ProduceRequests, one batch of one partition per request, to the
// leader they know. Every batch is one operation of the history, with record values
// unique in the run, so that each record read back names the operation that wrote it.
//
// A plain producer sends each batch once: a batch that left the client is never sent
// again (a retry could write it twice, and its values would no longer identify one
// write). An answer that does not say whether the batch was written (a timeout, a broken
// connection, NOT_LEADER_OR_FOLLOWER, which the leader also answers when it loses
// leadership with the batch appended) leaves the operation indeterminate; acks=0 never
// gets an answer, so its batches are all indeterminate.
//
// An idempotent producer behaves like franz-go's: it takes a producer id
// (InitProducerID), numbers each partition's records from sequence 0, keeps up to
// InFlightMax batches of a partition in flight, in order, and when an attempt fails for
// a reason worth retrying it waits for the batches in flight to answer, refreshes
// metadata and sends every unacknowledged batch again, in order, with its original
// sequence. OUT_OF_ORDER_SEQUENCE_NUMBER (or an unknown producer, or a fenced epoch) on
// the oldest unacknowledged batch resets the producer: it takes a new id, gives up on
// the batches that may have been written under the old one (indeterminate) and renumbers
// the others. A batch past its delivery timeout is given up the same way.

// producer is one producer client.
type producer struct {
	c    *Client
	spec ProducerSpec
	// written counts the values made so far.
	written int
	// pid and epoch are the idempotent producer's id (-1 until InitProducerID answers).
	pid     int64
	epoch   int16
	initing bool
	parts   map[TopicPartition]*prodPart
	order   []TopicPartition // parts' keys in creation order
	// attemptSeq numbers attempts; an answer to an attempt no longer flying is dropped.
	attemptSeq uint64
	// padded counts the padding bytes sent (padding.go); large marks a batch just
	// built with a large record.
	padded int
	large  bool
}

// prodPart is a producer's state for one partition.
type prodPart struct {
	tp TopicPartition
	// seq is the next sequence to give out (idempotent).
	seq int32
	// pending are the unresolved batches, oldest first; pending[:sent] have been sent
	// since the last resend.
	pending []*prodBatch
	sent    int
	// flying are the attempts sent and not answered.
	flying []uint64
	// retry: an attempt failed; resend from pending[0] once nothing is flying.
	retry    bool
	resendAt bool // a resend is scheduled
	waiting  bool // a metadata refresh for the leader is scheduled
	// epoch grows at every reset, so that a resend planned before it is dropped.
	epoch uint64
}

// prodBatch is one batch and its operation.
type prodBatch struct {
	op       *Op
	deadline int64
	bytes    []byte
	// maybe is set once an attempt may have been written; outstanding counts attempts
	// sent and not answered.
	maybe       bool
	outstanding int
	numbered    bool
	// stampedOff: the batch carries a timestamp an hour before its topic's
	// message.timestamp.before.max.ms allows (timestamps.go); it must be refused.
	stampedOff bool
}

// pendingMax bounds a partition's unresolved batches: a producer whose batches cannot
// get through stops making more, as a real one blocks on its buffer.
const pendingMax = 10

func (w *World) startProducer(spec ProducerSpec) *producer {
	c := w.addClient(roleProducer)
	c.interval = w.cfg.Data.OpInterval
	p := &producer{c: c, spec: spec, pid: -1, epoch: -1, parts: map[TopicPartition]*prodPart{}}
	kind := "plain"
	if spec.Idempotent {
		kind = "idempotent"
	}
	c.desc = fmt.Sprintf("a producer (acks=%d %s, %s)", spec.Acks, kind, spec.Codec)
	c.act = p.tick
	c.onStep = p.step
	c.scheduleNext()
	return p
}

// tick makes the producer's next batch, while the safety phase lasts.
func (p *producer) tick() {
	c := p.c
	w := c.w
	if w.phase != phaseSafety || w.failure != nil {
		return
	}
	defer c.scheduleNext()
	tp, ok := c.pickPartition()
	if !ok {
		c.refreshTopics(nil)
		return
	}
	pp := p.part(tp)
	if len(pp.pending) >= pendingMax {
		w.cov.Inc("producer:buffer-full")
		return
	}
	n := 1 + c.rng.IntN(p.spec.RecordsMax)
	if s := w.script; s != nil {
		st := s.turn(c, StepProduce)
		if st == nil {
			return
		}
		tp, n = TopicPartition{st.Topic, st.Partition}, st.Records
		if pp = p.part(tp); len(pp.pending) >= pendingMax {
			w.cov.Inc("producer:buffer-full")
			s.skipTurn(c, "the producer's buffer is full")
			return
		}
	}
	p.produce(pp, n)
}

// produce makes a batch of n new records for a partition and sends what it may.
func (p *producer) produce(pp *prodPart, n int) {
	c := p.c
	w := c.w
	tp := pp.tp
	w.recordStep(Step{Kind: StepProduce, Client: c.id, Topic: tp.Topic, Partition: tp.Partition, Records: n})
	values := make([]string, n)
	for i := range values {
		p.written++
		values[i] = recordValue(c.id, p.written)
	}
	op := &Op{Kind: OpProduce, Topic: tp.Topic, Partition: tp.Partition, Values: values, Acks: p.spec.Acks,
		Producer: -1, Epoch: -1, Sequence: -1, Offset: -1, LeaderEpoch: -1}
	w.invoke(c, op)
	b := &prodBatch{op: op, deadline: w.now + int64(w.cfg.Data.DeliveryTimeout)}
	pp.pending = append(pp.pending, b)
	p.pump(pp)
}

// recordValue is the value of the nth record client c produced, "c<c>-<n>": unique in
// the run, so that the checkers tell every record apart.
func recordValue(c int32, n int) string {
	var buf [24]byte
	b := append(buf[:0], 'c')
	b = strconv.AppendInt(b, int64(c), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(n), 10)
	return string(b)
}

// step starts a scheduled batch.
func (p *producer) step(st *Step) string {
	pp := p.part(TopicPartition{st.Topic, st.Partition})
	if len(pp.pending) >= pendingMax {
		p.c.w.cov.Inc("producer:buffer-full")
		return "the producer's buffer is full"
	}
	p.produce(pp, st.Records)
	return ""
}

func (p *producer) part(tp TopicPartition) *prodPart {
	pp := p.parts[tp]
	if pp == nil {
		pp = &prodPart{tp: tp}
		p.parts[tp] = pp
		p.order = append(p.order, tp)
	}
	return pp
}

// idle reports whether every batch of the producer is resolved.
func (p *producer) idle() bool {
	for _, tp := range p.order {
		if len(p.parts[tp].pending) > 0 {
			return false
		}
	}
	return true
}

// pump sends what a partition may send now.
func (p *producer) pump(pp *prodPart) {
	c := p.c
	w := c.w
	if w.failure != nil {
		return
	}
	p.expire(pp)
	if pp.retry {
		if len(pp.flying) == 0 && !pp.resendAt {
			pp.resendAt = true
			w.cov.Inc("producer:resend")
			epoch := pp.epoch
			c.later(dataBackoff, func() {
				c.refreshTopics(func() {
					if pp.epoch != epoch {
						return // the producer was reset meanwhile
					}
					pp.resendAt = false
					pp.retry = false
					pp.sent = 0
					p.pump(pp)
				})
			})
		}
		return
	}
	if p.spec.Idempotent && p.pid < 0 {
		p.initProducer()
		return
	}
	for pp.sent < len(pp.pending) && len(pp.flying) < p.spec.InFlightMax {
		leader, _, ok := c.leaderOf(pp.tp)
		if !ok {
			if !pp.waiting {
				pp.waiting = true
				c.later(dataBackoff, func() {
					c.refreshTopics(func() {
						pp.waiting = false
						p.pump(pp)
					})
				})
			}
			return
		}
		b := pp.pending[pp.sent]
		pp.sent++
		p.attempt(pp, b, leader)
	}
}

// expire gives up on the batches past their delivery timeout.
func (p *producer) expire(pp *prodPart) {
	w := p.c.w
	if !p.spec.Idempotent {
		// A batch that never left goes back behind younger ones (answerPlain), so the
		// oldest is not always first: every batch not in flight is checked, or one could
		// be sent after its delivery timeout.
		for _, b := range slices.Clone(pp.pending) {
			if w.now >= b.deadline && b.outstanding == 0 {
				w.cov.Inc("producer:delivery-timeout")
				p.resolve(pp, b, p.giveUpOutcome(b), -1)
			}
		}
		return
	}
	if len(pp.pending) > 0 && w.now >= pp.pending[0].deadline && (pp.retry || pp.sent == 0) {
		w.cov.Inc("producer:delivery-timeout")
		p.resolve(pp, pp.pending[0], p.giveUpOutcome(pp.pending[0]), -1)
		// Its sequence may or may not be in the log: nothing after it can follow.
		p.reset("delivery timeout")
	}
}

func (p *producer) giveUpOutcome(b *prodBatch) Outcome {
	if b.maybe || b.outstanding > 0 {
		return Indeterminate
	}
	b.op.Code = -1
	return Failed
}

// attempt sends a batch to leader.
func (p *producer) attempt(pp *prodPart, b *prodBatch, leader int32) {
	c := p.c
	w := c.w
	if p.spec.Idempotent && b.outstanding > 0 {
		// Attempts of one batch are sent one after the other, or a duplicate could be
		// written by two racing attempts the broker sees as new.
		panic(fmt.Sprintf("sim: producer %d sends op %d again with an attempt still in flight", c.id, b.op.ID))
	}
	if p.spec.Idempotent && !b.numbered {
		b.numbered = true
		b.op.Producer, b.op.Epoch, b.op.Sequence = p.pid, p.epoch, pp.seq
		pp.seq += int32(len(b.op.Values))
		w.producerSeqs.numbered(prodKey{pp.tp, p.pid, p.epoch}, b.op.Sequence, len(b.op.Values))
		b.bytes = nil
	}
	if b.bytes == nil {
		spec := record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: (clockBase + w.now) / int64(time.Millisecond), Codec: p.spec.Codec}.NoProducer()
		if p.spec.Idempotent {
			spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence = b.op.Producer, b.op.Epoch, b.op.Sequence
		} else if w.stampOff(pp.tp.Topic, b.op.Values[0]) {
			spec.FirstTimestamp -= int64(time.Hour / time.Millisecond)
			b.stampedOff = true
		}
		batch, err := w.buildRecords(spec, p.records(pp.tp.Topic, b.op.Values))
		if err != nil {
			w.fail("client", -1, "client %d cannot build a batch: %v", c.id, err)
			return
		}
		b.bytes = batch
		w.noteStamps(pp.tp.Topic, b.op.Values, spec.FirstTimestamp)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks = p.spec.Acks
	req.TimeoutMillis = int32(w.requestTimeout() / time.Millisecond)
	t := kmsg.NewProduceRequestTopic()
	t.Topic = pp.tp.Topic
	part := kmsg.NewProduceRequestTopicPartition()
	part.Partition = pp.tp.Partition
	part.Records = b.bytes
	t.Partitions = append(t.Partitions, part)
	req.Topics = append(req.Topics, t)
	p.attemptSeq++
	id := p.attemptSeq
	pp.flying = append(pp.flying, id)
	b.outstanding++
	b.op.Attempts++
	b.op.Node = leader
	if b.op.Attempts > 1 {
		w.cov.Inc("producer:retry")
	} else {
		p.countKind(b)
	}
	// zstd needs Produce v7 (KIP-110).
	lo := int16(0)
	if p.spec.Codec == record.CodecZstd {
		lo = 7
	}
	c.sendLimited(leader, req, lo, 32767, w.requestTimeout(), func(resp kmsg.Response, err error) {
		i := slices.Index(pp.flying, id)
		if i < 0 {
			return // the producer was reset since
		}
		pp.flying = slices.Delete(pp.flying, i, i+1)
		b.outstanding--
		p.answer(pp, b, resp, err)
		p.pump(pp)
	})
}

// produceResult extracts the partition's answer from a Produce response: its code, base
// offset and LogAppendTime.
func produceResult(resp kmsg.Response, tp TopicPartition) (int16, int64, int64) {
	r := resp.(*kmsg.ProduceResponse)
	for _, t := range r.Topics {
		if t.Topic != tp.Topic {
			continue
		}
		for _, pr := range t.Partitions {
			if pr.Partition == tp.Partition {
				return pr.ErrorCode, pr.BaseOffset, pr.LogAppendTime
			}
		}
	}
	return errInvalidRequest, -1, -1
}

// noEffectProduceCodes are answers that say the batch was not appended: refused before
// the leader appended anything.
var noEffectProduceCodes = []int16{errNotEnoughReplicas, errUnknownTopicOrPartition, errInvalidRequiredAcks,
	errCorruptMessage, errMessageTooLarge, errRecordListTooLarge, errInvalidRecord, errInvalidTimestamp, errUnsupportedForMessageFormat,
	errUnsupportedCompressionType, errTransactionalIDAuthorization, errOutOfOrderSequenceNumber,
	errInvalidProducerEpoch, errUnknownProducerID, errLeaderNotAvailable}

// staleLeaderCodes say the client's idea of the leader is wrong.
var staleLeaderCodes = []int16{errNotLeaderOrFollower, errUnknownTopicOrPartition, errFencedLeaderEpoch,
	errUnknownLeaderEpoch, errLeaderNotAvailable}

// answer handles an attempt's outcome.
func (p *producer) answer(pp *prodPart, b *prodBatch, resp kmsg.Response, err error) {
	c := p.c
	w := c.w
	if w.failure != nil {
		return
	}
	code, offset := int16(0), int64(-1)
	switch {
	case err == nil:
		var appendTime int64
		code, offset, appendTime = produceResult(resp, pp.tp)
		b.op.Sent = true
		if code == errNone {
			w.appendTimeAnswered(pp.tp.Topic, b.op.Values, appendTime)
		}
	case errors.Is(err, errNotSent):
		code = -1
	default:
		b.op.Sent = true
		code = -2 // unknown: timed out, broken, or acks=0
	}
	if slices.Contains(staleLeaderCodes, code) || code < 0 {
		c.forgetLeader(pp.tp)
	}
	if !p.spec.Idempotent {
		p.answerPlain(pp, b, code, offset)
		return
	}
	p.answerIdempotent(pp, b, code, offset)
}

func (p *producer) answerPlain(pp *prodPart, b *prodBatch, code int16, offset int64) {
	w := p.c.w
	w.checkTimestampBounds(pp.tp, b, code)
	switch {
	case code == errNone:
		p.resolve(pp, b, OK, offset)
	case code == -1 && w.now < b.deadline:
		// Never left: send it again, like any client.
		i := slices.Index(pp.pending, b)
		pp.pending = slices.Delete(pp.pending, i, i+1)
		pp.sent--
		pp.pending = append(pp.pending, b)
	case code == -1:
		b.op.Code = -1
		p.resolve(pp, b, Failed, -1)
	case slices.Contains(noEffectProduceCodes, code):
		b.op.Code = code
		p.countRefused(code)
		p.resolve(pp, b, Failed, -1)
	default:
		b.op.Code = code
		if code < 0 {
			b.op.Code = 0
		}
		p.resolve(pp, b, Indeterminate, -1)
	}
}

func (p *producer) answerIdempotent(pp *prodPart, b *prodBatch, code int16, offset int64) {
	w := p.c.w
	switch code {
	case errNone:
		p.resolve(pp, b, OK, offset)
		return
	case errDuplicateSequenceNumber:
		// Kafka clients take it as success: the batch was written, at an offset the answer
		// does not give.
		w.cov.Inc("producer:duplicate-sequence")
		p.resolve(pp, b, OK, -1)
		return
	case errOutOfOrderSequenceNumber, errInvalidProducerEpoch, errUnknownProducerID:
		if len(pp.pending) > 0 && pp.pending[0] == b && !pp.retry {
			w.cov.Inc("producer:out-of-order")
			b.op.Code = code
			p.reset(errorName(code))
			return
		}
		// A consequence of an earlier batch that failed: it is resent after it.
	}
	if !slices.Contains(noEffectProduceCodes, code) && code != -1 {
		b.maybe = true
	}
	pp.retry = true
}

// resolve completes a batch's operation and drops it from pending.
func (p *producer) resolve(pp *prodPart, b *prodBatch, outcome Outcome, offset int64) {
	if i := slices.Index(pp.pending, b); i >= 0 {
		pp.pending = slices.Delete(pp.pending, i, i+1)
		if i < pp.sent {
			pp.sent--
		}
	}
	b.op.Offset = offset
	if outcome == OK && p.spec.Idempotent && p.spec.Acks == -1 {
		p.c.w.producerSeqs.acked(prodKey{pp.tp, b.op.Producer, b.op.Epoch}, b.op.Sequence, len(b.op.Values))
	}
	p.c.w.complete(b.op, outcome)
}

// reset takes a new producer id: batches that may have been written under the old one
// are given up (indeterminate), the others are renumbered and sent again.
func (p *producer) reset(why string) {
	c := p.c
	w := c.w
	w.cov.Inc("producer:reset")
	w.clientNote(c, "producer reset: "+why)
	p.pid, p.epoch = -1, -1
	for _, tp := range p.order {
		pp := p.parts[tp]
		var keep []*prodBatch
		for _, b := range slices.Clone(pp.pending) {
			if b.maybe || b.outstanding > 0 {
				p.resolve(pp, b, Indeterminate, -1)
				continue
			}
			b.numbered = false
			b.op.Producer, b.op.Epoch, b.op.Sequence = -1, -1, -1
			keep = append(keep, b)
		}
		pp.pending = keep
		pp.seq, pp.sent, pp.flying, pp.retry, pp.resendAt = 0, 0, nil, false, false
		pp.epoch++
	}
	p.initProducer()
}

// initProducer asks a broker for a producer id, then sends what waits.
func (p *producer) initProducer() {
	c := p.c
	w := c.w
	if p.initing || w.failure != nil {
		return
	}
	p.initing = true
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = 60_000
	req.ProducerID, req.ProducerEpoch = -1, -1
	c.send(c.randomBroker(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		p.initing = false
		if err == nil {
			r := resp.(*kmsg.InitProducerIDResponse)
			if r.ErrorCode == errNone && r.ProducerID >= 0 {
				p.pid, p.epoch = r.ProducerID, r.ProducerEpoch
				w.cov.Inc("producer:id")
				for _, tp := range p.order {
					p.pump(p.parts[tp])
				}
				return
			}
		}
		if err == nil {
			w.cov.Inc("producer:id-" + errorName(resp.(*kmsg.InitProducerIDResponse).ErrorCode))
		} else {
			w.cov.Inc("producer:id-retry")
		}
		c.later(dataBackoff*2, func() {
			if p.pid < 0 {
				p.initProducer()
			}
		})
		// Batches past their deadline are given up even while no id comes.
		for _, tp := range p.order {
			pp := p.parts[tp]
			for len(pp.pending) > 0 && w.now >= pp.pending[0].deadline && pp.pending[0].outstanding == 0 {
				w.cov.Inc("producer:delivery-timeout")
				b := pp.pending[0]
				p.resolve(pp, b, p.giveUpOutcome(b), -1)
			}
		}
	})
}
