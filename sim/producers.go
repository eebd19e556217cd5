package sim

import (
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeProducers in the simulator: the mover now and then asks a data partition's
// leader which idempotent producers it remembers. The check (describe-producers), for
// every producer id and epoch an answer lists that a simulated producer used on the
// partition: its last sequence is at least the last sequence of every batch that
// producer had acknowledged with acks=all before the request was sent (that batch is
// committed, so the leader holds it), and at most the last it had numbered before the
// answer came back. Entries of ids no producer of this run used (a byzantine client's,
// say) are not judged.

// prodKey names a producer id and epoch on a partition.
type prodKey struct {
	tp    TopicPartition
	pid   int64
	epoch int16
}

// prodSeqs is how far a producer id and epoch got on a partition: the last sequence it
// numbered and the last acknowledged with acks=all (-1 before any).
type prodSeqs struct{ numbered, acked int32 }

// producerSeqs follows what the simulated producers numbered and had acknowledged.
type producerSeqs struct {
	m map[prodKey]*prodSeqs
}

func (s *producerSeqs) get(k prodKey) *prodSeqs {
	if s.m == nil {
		s.m = map[prodKey]*prodSeqs{}
	}
	p := s.m[k]
	if p == nil {
		p = &prodSeqs{numbered: -1, acked: -1}
		s.m[k] = p
	}
	return p
}

// numbered notes a batch given sequences [seq, seq+n).
func (s *producerSeqs) numbered(k prodKey, seq int32, n int) {
	p := s.get(k)
	p.numbered = max(p.numbered, seq+int32(n)-1)
}

// acked notes a batch acknowledged with acks=all.
func (s *producerSeqs) acked(k prodKey, seq int32, n int) {
	p := s.get(k)
	p.acked = max(p.acked, seq+int32(n)-1)
}

// describeProducers asks a data partition's leader for its producers and checks the
// answer.
func (d *dataWorkload) describeProducers() {
	c, w := d.mover, d.w
	topics := w.dataTopicNames()
	topic := topics[c.rng.IntN(len(topics))]
	n := c.partitions(topic)
	if n == 0 {
		return
	}
	tp := TopicPartition{topic, c.rng.Int32N(n)}
	leader, _, ok := c.leaderOf(tp)
	if !ok {
		return
	}
	// The lower bounds hold from the moment the request is sent.
	before := map[prodKey]int32{}
	for k, p := range w.producerSeqs.m { // order-independent: copied into a map
		if k.tp == tp {
			before[k] = p.acked
		}
	}
	free := c.occupy()
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
	req.Topics = append(req.Topics, rt)
	c.send(leader, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		free()
		r, _ := resp.(*kmsg.DescribeProducersResponse)
		if err != nil || r == nil || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			return
		}
		p := r.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			w.cov.Inc("describe-producers:" + strings.ToLower(errorName(p.ErrorCode)))
			return
		}
		for _, ap := range p.ActiveProducers {
			k := prodKey{tp, ap.ProducerID, int16(ap.ProducerEpoch)}
			seqs := w.producerSeqs.m[k]
			if seqs == nil {
				continue
			}
			if low := before[k]; ap.LastSequence < low {
				w.fail("describe-producers", leader, "%s: DescribeProducers gave producer %d (epoch %d) the last sequence %d, below %d, acknowledged with acks=all before the request was sent at %v",
					tp, ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, low, time.Duration(w.now))
				return
			}
			if ap.LastSequence > seqs.numbered {
				w.fail("describe-producers", leader, "%s: DescribeProducers gave producer %d (epoch %d) the last sequence %d, above the last it numbered, %d",
					tp, ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, seqs.numbered)
				return
			}
			w.cov.Inc("check:describe-producers")
		}
	})
}
