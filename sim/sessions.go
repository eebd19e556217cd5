package sim

import (
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Session readers (DataConfig.SessionReaders) fetch as franz-go does, with incremental
// fetch sessions (KIP-227): one session per broker, holding the partitions the reader
// reads whose leader it knows is that broker. A reader reads at most
// DataConfig.SessionPartitions partitions at once, the most recently picked: a fetch of
// a partition it did not read adds it (to the session of its leader) and one beyond the
// bound stops reading the least recent, which its session then forgets. A fetch goes to
// the picked partition's leader, in that broker's session: a full fetch (epoch 0) when
// there is none, else an incremental fetch naming only the partitions whose fetch
// offset, leader epoch or topic id changed, and forgetting those no longer read there.
// A transport error, FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH,
// FETCH_SESSION_TOPIC_ID_ERROR or an answer without a session start over with a full
// fetch, as franz-go's do (a broker restart loses its sessions: the next fetch finds
// its id unknown).
//
// Every partition of a session fetch is an operation of the history. A partition an
// incremental answer leaves out is answered all the same: by the session's rule the
// broker read it and found no records and the high watermark it last told, so the
// operation completes with that high watermark, and the partition model checks it
// like any read (an answer that hid a moved high watermark reads a stale one).
//
// The sessions checker judges what the other checkers cannot see of a session:
//   - an answer names only partitions of the session, each once, and a full answer
//     names each one asked for;
//   - an incremental answer lists a partition only with something new: records, an
//     error, or a high watermark, last stable offset or log start the client was not
//     told (a throttled answer, whose records were dropped, excepted), and leaves one
//     out only when its last answer told a high watermark (not an error);
//   - records answered for a partition begin at the fetch offset the client holds: at
//     the end, no record of the final read lies between that offset and the first
//     record answered (a session that moved its fetch offset past records the client
//     never got would skip them).

// readerSession is what a session reader knows of its session with one broker.
type readerSession struct {
	id    int32 // 0: none
	epoch int32 // the next fetch's epoch; 0: a full fetch creating the session
	names bool  // the session names topics (created below Fetch v13)
	parts map[TopicPartition]*sessionView
}

// sessionView is one partition of a session: what the reader told the broker and what
// the broker last told it (hw -1: an error, or nothing yet).
type sessionView struct {
	id            [16]byte
	offset        int64
	epoch         int32
	hw, lso, logS int64
}

// reset makes the next fetch a full one creating a new session; id stays, so that the
// full fetch closes the old session (as franz-go's reset does).
func (s *readerSession) reset() {
	s.epoch, s.parts = 0, nil
}

// sessionGap is a session answer whose records began above the reader's fetch offset.
type sessionGap struct {
	tp          TopicPartition
	client      int32
	node        int32
	at          int64
	from, first int64
}

// sessionAsk is one partition of a session fetch in flight.
type sessionAsk struct {
	tp TopicPartition
	op *Op
}

// want makes tp the reader's most recent partition, dropping the least recent beyond
// the bound.
func (r *reader) want(tp TopicPartition) {
	if i := slices.Index(r.wanted, tp); i >= 0 {
		r.wanted = slices.Delete(r.wanted, i, i+1)
	}
	r.wanted = slices.Insert(r.wanted, 0, tp)
	if n := max(r.c.w.cfg.Data.SessionPartitions, 1); len(r.wanted) > n {
		r.wanted = r.wanted[:n]
		r.c.w.cov.Inc("fetch-session:stopped-reading")
	}
}

// sessionFetch fetches tp, and the other partitions the reader reads from its leader,
// in that broker's session; done runs once every operation completed.
func (r *reader) sessionFetch(tp TopicPartition, minBytes int32, done func()) {
	c := r.c
	w := c.w
	leader, _, ok := c.leaderOf(tp)
	if !ok {
		c.refreshTopics(func() {
			if _, _, ok := c.leaderOf(tp); !ok {
				c.later(dataBackoff, done)
				return
			}
			r.sessionFetch(tp, minBytes, done)
		})
		return
	}
	r.want(tp)
	s := r.sessions[leader]
	if s == nil {
		s = &readerSession{}
		r.sessions[leader] = s
	}
	asks := r.sessionSet(tp, leader)
	names := w.cfg.Data.SessionNames
	for _, a := range asks {
		names = names || c.topics[a.tp.Topic].id == ([16]byte{})
	}
	req := r.sessionRequest(s, asks, names)
	for i := range asks {
		a := &asks[i]
		_, epoch, _ := c.leaderOf(a.tp)
		a.op = &Op{Kind: OpFetch, Topic: a.tp.Topic, Partition: a.tp.Partition, Offset: r.pos[a.tp], LeaderEpoch: epoch, HW: -1, Producer: -1,
			Isolation: r.c.isolation, LSO: -1, LogStart: -1}
		w.invoke(c, a.op)
		a.op.Node = leader
	}
	req.MaxWaitMillis = int32(w.cfg.Data.FetchWaitMax / time.Millisecond)
	req.MinBytes = minBytes
	if minBytes > 1 {
		w.cov.Inc("fetch:long-poll")
	}
	lo, hi := int16(7), int16(math.MaxInt16)
	if names {
		hi = 12
	}
	if s.epoch > 0 && c.rng.IntN(50) != 0 {
		// Keep to the session's kind of version, as a client does; one fetch in fifty
		// does not, and is refused FETCH_SESSION_TOPIC_ID_ERROR.
		if s.names {
			hi = 12
		} else if !names {
			lo = 13
		}
	}
	timeout := w.requestTimeout() + w.cfg.Data.FetchWaitMax
	c.sendLimited(leader, req, lo, hi, timeout, func(resp kmsg.Response, err error) {
		r.sessionAnswer(s, leader, req, asks, resp, err, done)
	})
}

// sessionSet lists the partitions of a fetch to leader: tp first, then the others the
// reader reads whose leader it knows is leader, most recent first.
func (r *reader) sessionSet(tp TopicPartition, leader int32) []sessionAsk {
	asks := []sessionAsk{{tp: tp}}
	for _, p := range r.wanted {
		if l, _, ok := r.c.leaderOf(p); ok && l == leader && p != tp {
			asks = append(asks, sessionAsk{tp: p})
		}
	}
	return asks
}

// sessionRequest builds a session fetch of asks: full when s has no session yet,
// otherwise naming what changed and forgetting what the reader no longer reads there.
func (r *reader) sessionRequest(s *readerSession, asks []sessionAsk, names bool) *kmsg.FetchRequest {
	c := r.c
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.IsolationLevel = c.isolation
	req.MaxBytes = int32(1 + c.rng.IntN(c.w.fetchBytesMax()))
	req.SessionID, req.SessionEpoch = s.id, s.epoch
	topicOf := map[string]int{}
	for _, a := range asks {
		_, epoch, _ := c.leaderOf(a.tp)
		id := c.topics[a.tp.Topic].id
		if names {
			id = [16]byte{}
		}
		if v := s.parts[a.tp]; s.epoch > 0 && v != nil && v.offset == r.pos[a.tp] && v.epoch == epoch && (s.names || v.id == id) {
			continue // the session has it as it is
		}
		i, ok := topicOf[a.tp.Topic]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = a.tp.Topic, id
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			topicOf[a.tp.Topic] = i
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition, p.CurrentLeaderEpoch, p.FetchOffset = a.tp.Partition, epoch, r.pos[a.tp]
		p.LogStartOffset, p.LastFetchedEpoch, p.PartitionMaxBytes = -1, -1, req.MaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	if s.epoch == 0 {
		return req
	}
	var gone []TopicPartition
	for tp, v := range s.parts { // order-independent: sorted below
		// A session of topic ids holds a partition of a topic whose id changed under
		// the old id: it goes, and the new one comes. (A session of names keeps it.)
		if !slices.ContainsFunc(asks, func(a sessionAsk) bool { return a.tp == tp }) || (!s.names && v.id != c.topics[tp.Topic].id) {
			gone = append(gone, tp)
		}
	}
	sortedPartitions(gone)
	for _, tp := range gone {
		v := s.parts[tp]
		n := len(req.ForgottenTopics)
		if n == 0 || req.ForgottenTopics[n-1].Topic != tp.Topic {
			req.ForgottenTopics = append(req.ForgottenTopics, kmsg.FetchRequestForgottenTopic{Topic: tp.Topic, TopicID: v.id})
			n++
		}
		req.ForgottenTopics[n-1].Partitions = append(req.ForgottenTopics[n-1].Partitions, tp.Partition)
		c.w.cov.Inc("fetch-session:forgotten")
	}
	return req
}

// sessionAnswer completes a session fetch's operations and brings the session up to
// date, then calls done (after looking up the log start of partitions whose records
// were deleted below the reader).
func (r *reader) sessionAnswer(s *readerSession, node int32, req *kmsg.FetchRequest, asks []sessionAsk, resp kmsg.Response, err error, done func()) {
	c := r.c
	w := c.w
	fail := func(code int16) {
		for _, a := range asks {
			a.op.Code = code
			w.complete(a.op, Failed)
		}
	}
	if err != nil {
		fail(-1)
		c.forgetLeader(asks[0].tp)
		s.reset()
		done()
		return
	}
	fr := resp.(*kmsg.FetchResponse)
	if fr.ErrorCode != errNone {
		fail(fr.ErrorCode)
		switch fr.ErrorCode {
		case errFetchSessionIDNotFound:
			w.cov.Inc("fetch-session:id-not-found")
			s.id = 0
		case errInvalidFetchSessionEpoch:
			w.cov.Inc("fetch-session:invalid-epoch")
		case errFetchSessionTopicID:
			w.cov.Inc("fetch-session:topic-id-error")
		}
		s.reset()
		done()
		return
	}
	incremental := s.epoch > 0 && fr.SessionID != 0
	before := r.commitSession(s, req, fr, asks)
	got, ok := r.sessionParts(node, fr, asks)
	if !ok {
		return
	}
	var restart []TopicPartition
	for _, a := range asks {
		part := got[a.tp]
		if part == nil {
			if !incremental {
				w.fail("sessions", node, "client %d: node %d's answer to a full fetch (session %d, epoch %d) leaves out %s",
					c.id, node, req.SessionID, req.SessionEpoch, a.tp)
				return
			}
			v := s.parts[a.tp]
			if v == nil || v.hw < 0 {
				w.fail("sessions", node, "client %d: node %d's incremental answer (session %d, epoch %d) leaves out %s, whose last answer told no high watermark",
					c.id, node, fr.SessionID, req.SessionEpoch, a.tp)
				return
			}
			a.op.HW, a.op.Next = v.hw, a.op.Offset
			if a.op.Isolation == 1 {
				a.op.LSO, a.op.LogStart = v.lso, v.logS // unchanged since told
			}
			w.cov.Inc("fetch-session:left-out")
			w.complete(a.op, OK)
			continue
		}
		told, had := before[a.tp]
		if !had {
			told = sessionView{hw: -1, lso: -1, logS: -1}
		}
		if incremental && !r.sessionNews(node, fr, a.tp, part, told) {
			return
		}
		if v := s.parts[a.tp]; fr.SessionID != 0 && v != nil {
			v.hw, v.lso, v.logS = part.HighWatermark, part.LastStableOffset, part.LogStartOffset
			if part.ErrorCode != errNone {
				v.hw = -1
			}
		}
		c.fetchPart(a.op, a.tp, part)
		if w.failure != nil {
			return
		}
		if a.op.Outcome == OK && len(a.op.Records) > 0 && a.op.Records[0].Offset > a.op.Offset {
			w.sessionGaps = append(w.sessionGaps, sessionGap{tp: a.tp, client: c.id, node: node, at: w.now, from: a.op.Offset, first: a.op.Records[0].Offset})
		}
		if r.advance(a.tp, a.op) {
			restart = append(restart, a.tp)
		}
	}
	r.toStarts(restart, done)
}

// commitSession applies a successful answer to the session: a new session, the next
// epoch, the partitions the request named or forgot (franz-go's commitFromReq), or no
// session at all when the broker answered without one. It returns what the session told
// of each partition before the answer.
func (r *reader) commitSession(s *readerSession, req *kmsg.FetchRequest, fr *kmsg.FetchResponse, asks []sessionAsk) map[TopicPartition]sessionView {
	w := r.c.w
	before := map[TopicPartition]sessionView{}
	for tp, v := range s.parts { // order-independent: copies into another map
		before[tp] = *v
	}
	if fr.SessionID == 0 {
		if req.SessionEpoch > 0 {
			w.cov.Inc("fetch-session:closed-by-broker")
		} else {
			w.cov.Inc("fetch-session:no-room")
		}
		s.id = 0
		s.reset()
		return before
	}
	if s.epoch == 0 {
		s.id, s.parts, s.names = fr.SessionID, map[TopicPartition]*sessionView{}, req.GetVersion() < 13
		w.cov.Inc("fetch-session:created")
	} else {
		w.cov.Inc("fetch-session:incremental")
	}
	s.epoch++
	if s.epoch < 0 {
		s.epoch = 1
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tp := TopicPartition{t.Topic, p.Partition}
			v := s.parts[tp]
			if v == nil {
				v = &sessionView{hw: -1, lso: -1, logS: -1}
				s.parts[tp] = v
			}
			v.id, v.offset, v.epoch = t.TopicID, p.FetchOffset, p.CurrentLeaderEpoch
		}
	}
	for _, t := range req.ForgottenTopics {
		for _, p := range t.Partitions {
			delete(s.parts, TopicPartition{t.Topic, p})
		}
	}
	return before
}

// sessionParts maps a session answer's partitions to the partitions asked for, failing
// the sessions check on a partition not asked for or answered twice.
func (r *reader) sessionParts(node int32, fr *kmsg.FetchResponse, asks []sessionAsk) (map[TopicPartition]*kmsg.FetchResponseTopicPartition, bool) {
	c := r.c
	got := map[TopicPartition]*kmsg.FetchResponseTopicPartition{}
	for i := range fr.Topics {
		t := &fr.Topics[i]
		name := t.Topic
		if fr.GetVersion() >= 13 {
			name = ""
			for _, a := range asks {
				if c.topics[a.tp.Topic].id == t.TopicID {
					name = a.tp.Topic
				}
			}
		}
		for j := range t.Partitions {
			tp := TopicPartition{name, t.Partitions[j].Partition}
			asked := slices.ContainsFunc(asks, func(a sessionAsk) bool { return a.tp == tp })
			if !asked || got[tp] != nil {
				c.w.fail("sessions", node, "client %d: node %d's session answer (session %d) names %s/%d (topic id %x) %s",
					c.id, node, fr.SessionID, name, tp.Partition, t.TopicID, map[bool]string{true: "twice", false: "which the fetch did not hold"}[asked])
				return nil, false
			}
			got[tp] = &t.Partitions[j]
		}
	}
	return got, true
}

// sessionNews checks that a partition an incremental answer lists has something new
// for the client.
func (r *reader) sessionNews(node int32, fr *kmsg.FetchResponse, tp TopicPartition, part *kmsg.FetchResponseTopicPartition, v sessionView) bool {
	w := r.c.w
	if fr.ThrottleMillis > 0 || len(part.RecordBatches) > 0 || part.ErrorCode != errNone || part.PreferredReadReplica >= 0 {
		return true
	}
	if part.HighWatermark != v.hw || part.LastStableOffset != v.lso || part.LogStartOffset != v.logS {
		w.cov.Inc("fetch-session:offsets-moved")
		return true
	}
	w.fail("sessions", node, "client %d: node %d's incremental answer (session %d) lists %s with nothing new (high watermark %d, log start %d, as told before)",
		r.c.id, node, fr.SessionID, tp, v.hw, v.logS)
	return false
}

// toStarts looks up the log start of each partition in turn, then calls done.
func (r *reader) toStarts(tps []TopicPartition, done func()) {
	if len(tps) == 0 {
		done()
		return
	}
	r.toStart(tps[0], func() { r.toStarts(tps[1:], done) })
}

// checkSessionGaps is the end-of-run part of the sessions checker: a session answer
// whose records began above the reader's fetch offset skipped none that the final read
// holds, on a topic that is not compacted.
func (c *checkers) checkSessionGaps() bool {
	w := c.w
	if w.data == nil || w.phase != phaseEnd || len(w.sessionGaps) == 0 {
		return true
	}
	d := w.data
	for _, g := range w.sessionGaps {
		final, ok := d.finalReads[g.tp]
		if !ok {
			continue
		}
		if t, _ := w.cfg.Data.topic(g.tp.Topic); t.Compact {
			// Each replica cleans on its own: the answering one may have removed a
			// record the final read's leader still holds.
			w.cov.Inc("check:session-gap-compacted")
			continue
		}
		lo := max(g.from, d.finalStart[g.tp])
		for _, rec := range final {
			if rec.Fenced || rec.Offset < lo {
				continue
			}
			if rec.Offset < g.first {
				w.fail("sessions", g.node, "client %d fetched %s at %d in a session at %v and node %d answered records from %d, skipping record %d (%s) of the final read",
					g.client, g.tp, g.from, time.Duration(g.at), g.node, g.first, rec.Offset, rec.Value)
				return false
			}
			break
		}
		w.cov.Inc("check:session-gap")
	}
	return true
}
