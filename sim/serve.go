package sim

import (
	"fmt"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// serveWatch checks what a node decides about client requests against its state when
// the request reached it (the gate a leader applies at arrival):
//
//   - a produce, fetch or ListOffsets that reached a node whose controller lease was not
//     valid (on its own clock) must not be answered with success for any partition: a
//     broker without a lease must not act as a leader (DESIGN.md 4.3);
//   - a fetch or a ListOffsets for the latest offset that reached a leader whose high
//     watermark did not yet cover its log end at election must not be answered with
//     success for that partition: a new leader serves no reads before then, so no
//     client sees a high watermark below one an earlier leader showed.
//
// It also counts idempotent produces answered without an append: the duplicates of
// batches a retry sent again.
type serveWatch struct {
	w       *World
	pending map[serveKey]*serveMark
	// last is the request the node being stepped is taking, to compare its replicas
	// after the step.
	last *serveMark
}

type serveKey struct {
	node int32
	conn core.ConnID
	corr int32
}

type serveMark struct {
	key      serveKey
	noLease  bool
	notReady []TopicPartition
	// idempotent produce: the partition and its log end before the request.
	idem      bool
	idemTP    TopicPartition
	leoBefore int64
	noAppend  bool
}

func newServeWatch(w *World) *serveWatch {
	return &serveWatch{w: w, pending: map[serveKey]*serveMark{}}
}

// arrived notes a data request reaching node n, before the node takes it.
func (s *serveWatch) arrived(n *simNode, conn core.ConnID, corr int32, req kmsg.Request) {
	s.last = nil
	d := s.w.checks.data
	ins := s.w.opts.Inspect
	if d == nil || ins.LeaseValid == nil || req == nil {
		return
	}
	reps := d.replicas[n.spec.ID-1]
	m := &serveMark{key: serveKey{n.spec.ID, conn, corr}}
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		if r.Acks == 0 {
			return
		}
		if len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
			p := r.Topics[0].Partitions[0]
			if h, err := record.ParseHeader(p.Records); err == nil && h.ProducerID >= 0 {
				tp := TopicPartition{r.Topics[0].Topic, p.Partition}
				if rv := findReplicaByName(reps, tp); rv != nil && rv.Leader {
					m.idem, m.idemTP, m.leoBefore = true, tp, rv.LEO
				}
			}
		}
	case *kmsg.FetchRequest:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				m.notReady = s.notReady(m.notReady, reps, TopicPartition{t.Topic, p.Partition}, t.TopicID)
			}
		}
	case *kmsg.ListOffsetsRequest:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.Timestamp == -1 {
					m.notReady = s.notReady(m.notReady, reps, TopicPartition{t.Topic, p.Partition}, [16]byte{})
				}
			}
		}
	default:
		return
	}
	m.noLease = !ins.LeaseValid(n.m, n.localNow())
	s.pending[m.key] = m
	s.last = m
}

// notReady appends tp when n leads it without being ready to serve reads.
func (s *serveWatch) notReady(out []TopicPartition, reps []ReplicaView, tp TopicPartition, id [16]byte) []TopicPartition {
	for i := range reps {
		r := &reps[i]
		if r.Partition != tp.Partition || (r.Topic != tp.Topic && r.TopicID != id) {
			continue
		}
		if r.Leader && !r.ReadReady && !r.Closed {
			out = append(out, TopicPartition{r.Topic, r.Partition})
		}
	}
	return out
}

// stepped runs after the node took the request: an idempotent produce that appended
// nothing was answered from the producer state (or refused).
func (s *serveWatch) stepped(n *simNode) {
	m := s.last
	s.last = nil
	if m == nil || !m.idem || s.w.checks.data == nil {
		return
	}
	if rv := findReplicaByName(s.w.checks.data.replicas[n.spec.ID-1], m.idemTP); rv != nil && rv.LEO == m.leoBefore {
		m.noAppend = true
	}
}

// answered checks a response leaving node n.
func (s *serveWatch) answered(n *simNode, r core.Response) {
	k := serveKey{n.spec.ID, r.Conn, r.Corr}
	m := s.pending[k]
	if m == nil {
		return
	}
	delete(s.pending, k)
	w := s.w
	ok := okPartitions(r.Msg, s.w.checks.data.replicas[n.spec.ID-1])
	if m.noLease && len(ok) > 0 {
		w.fail("invariant:lease", n.spec.ID, "node %d answered %s for %v although its lease had expired when the request arrived",
			n.spec.ID, kmsg.NameForKey(r.Msg.Key()), ok)
		return
	}
	for _, tp := range m.notReady {
		for _, o := range ok {
			if o == tp {
				w.fail("invariant:read-ready", n.spec.ID, "node %d served a read of %s as a new leader whose high watermark had not yet covered its log end at election",
					n.spec.ID, tp)
				return
			}
		}
	}
	if m.idem && m.noAppend && len(ok) > 0 {
		w.cov.Inc("producer:duplicate-answered")
	}
}

// connClosed forgets the requests of a closed connection.
func (s *serveWatch) connClosed(conn core.ConnID) {
	for k := range s.pending {
		if k.conn == conn {
			delete(s.pending, k)
		}
	}
}

// okPartitions lists the partitions a data response answered with success; reps names
// the topics a response gives by id.
func okPartitions(resp kmsg.Response, reps []ReplicaView) []TopicPartition {
	name := func(topic string, id [16]byte) string {
		if topic != "" {
			return topic
		}
		for i := range reps {
			if reps[i].TopicID == id {
				return reps[i].Topic
			}
		}
		return fmt.Sprintf("topic-id-%x", id)
	}
	var out []TopicPartition
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == errNone {
					out = append(out, TopicPartition{t.Topic, p.Partition})
				}
			}
		}
	case *kmsg.FetchResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == errNone && r.ErrorCode == errNone {
					out = append(out, TopicPartition{name(t.Topic, t.TopicID), p.Partition})
				}
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == errNone {
					out = append(out, TopicPartition{t.Topic, p.Partition})
				}
			}
		}
	}
	return out
}

func findReplicaByName(reps []ReplicaView, tp TopicPartition) *ReplicaView {
	for i := range reps {
		if reps[i].Partition == tp.Partition && reps[i].Topic == tp.Topic && !reps[i].Closed {
			return &reps[i]
		}
	}
	return nil
}
