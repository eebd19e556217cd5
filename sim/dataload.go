package sim

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// dataWorkload drives the data clients of a run: a setup client creates the data
// topics, producers, readers and group members run during the safety phase, a grower
// adds partitions now and then; in the liveness phase a probe must get a produce and a
// fetch through on every partition, then a final complete read of every partition
// resolves the operations whose outcome was unknown, and consumer groups must catch up.
type dataWorkload struct {
	w         *World
	setup     *Client
	producers []*producer
	readers   []*reader
	groups    []*groupRun
	grower    *Client
	probe     *Client
	final     *Client
	// created marks the data topics whose creation is confirmed.
	created map[string]bool
	// finalReads holds the final read of each partition, in offset order, and
	// finalHW the high watermark it read up to.
	finalReads map[TopicPartition][]LogRecord
	finalHW    map[TopicPartition]int64
	// probes counts values made by the liveness probe.
	probes int
	// liveStart is when the liveness phase began.
	liveStart int64
	// drained is set once every group caught up after the final reads.
	drained bool
}

func (w *World) startData() {
	d := &dataWorkload{w: w, created: map[string]bool{}, finalReads: map[TopicPartition][]LogRecord{}, finalHW: map[TopicPartition]int64{}}
	w.data = d
	d.setup = w.addClient(roleSetup)
	d.setup.direct = true
	for _, t := range w.cfg.Data.Topics {
		d.create(t)
	}
	for _, spec := range w.cfg.Data.Producers {
		d.producers = append(d.producers, w.startProducer(spec))
	}
	for range w.cfg.Data.Readers {
		d.readers = append(d.readers, w.startReader())
	}
	for _, g := range w.cfg.Data.Groups {
		d.groups = append(d.groups, w.startGroup(g))
	}
	if w.cfg.Data.GrowInterval > 0 {
		d.grower = w.addClient(roleSetup)
		d.grower.interval = w.cfg.Data.GrowInterval
		d.grower.act = d.grow
		d.grower.scheduleNext()
	}
}

// create creates a data topic, retrying until it exists.
func (d *dataWorkload) create(t DataTopic) {
	w := d.w
	if w.failure != nil {
		return
	}
	op := &Op{Kind: OpCreate, Topic: t.Name, Count: t.Partitions, RF: t.RF}
	req := createTopicsRequest(op, w.requestTimeout()).(*kmsg.CreateTopicsRequest)
	minISR := strconv.Itoa(int(t.MinISR))
	req.Topics[0].Configs = append(req.Topics[0].Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "min.insync.replicas", Value: &minISR})
	c := d.setup
	w.invoke(c, op)
	c.mutate(op, req, createTopicsCode, func(outcome Outcome) {
		w.complete(op, outcome)
		if outcome == OK || (outcome == Failed && op.Code == errTopicAlreadyExists) {
			d.created[t.Name] = true
			w.cov.Inc("data:topic-created")
			return
		}
		c.later(4*dataBackoff, func() { d.create(t) })
	})
}

// grow adds a partition to a data topic now and then (consumer groups must notice).
func (d *dataWorkload) grow() {
	c := d.grower
	w := d.w
	if w.phase != phaseSafety || w.failure != nil {
		return
	}
	defer c.scheduleNext()
	topics := w.dataTopicNames()
	topic := topics[c.rng.IntN(len(topics))]
	if !d.created[topic] || c.busy {
		return
	}
	c.busy = true
	c.refreshTopics(func() {
		n := c.partitions(topic)
		if n == 0 || n >= w.cfg.Data.PartitionsMax {
			c.busy = false
			return
		}
		op := &Op{Kind: OpCreatePartitions, Topic: topic, Count: n + 1}
		c.run(op, func() {
			c.busy = false
			if op.Outcome == OK {
				w.cov.Inc("data:partitions-grown")
			}
		})
	})
}

// livenessStarted stops the safety-phase clients: producers only finish the batches
// they hold.
func (d *dataWorkload) livenessStarted() {
	d.liveStart = d.w.now
	for _, r := range d.readers {
		r.c.stopped = true
	}
}

// producersIdle reports whether every producer resolved every batch.
func (d *dataWorkload) producersIdle() bool {
	for _, p := range d.producers {
		if !p.idle() {
			return false
		}
	}
	return true
}

// converge runs the data side of the liveness phase, then done: every data partition
// must take a produce and serve a fetch of it within the bound, producers must resolve
// what they hold, then every partition is read completely and every group catches up.
func (d *dataWorkload) converge(done func()) {
	w := d.w
	d.probe = w.addClient(roleDataProbe)
	d.probe.later(w.cfg.LivenessBound-time.Duration(w.now-d.liveStart), func() {
		if w.phase == phaseLiveness && w.failure == nil {
			w.fail("liveness", -1, "data partitions did not all take a produce and serve a fetch within %v after faults stopped", w.cfg.LivenessBound)
		}
	})
	d.probeTopics(func() {
		w.cov.Inc("liveness:data-converged")
		d.waitProducers(func() {
			// A request a producer gave up on may still reach its leader and be appended:
			// wait until every such request timed out there too, so that nothing commits
			// after the final reads.
			d.probe.later(w.requestTimeout()+w.cfg.Timing.ReplicaFetchMaxWait, func() {
				d.finalReadAll(func() { d.drainGroups(done) })
			})
		})
	})
}

// probeTopics waits for every data topic to exist, then probes its partitions.
func (d *dataWorkload) probeTopics(done func()) {
	w := d.w
	c := d.probe
	if w.failure != nil {
		return
	}
	for _, t := range w.cfg.Data.Topics {
		if !d.created[t.Name] {
			c.later(4*dataBackoff, func() { d.probeTopics(done) })
			return
		}
	}
	c.refreshTopics(func() {
		for _, t := range w.cfg.Data.Topics {
			if c.partitions(t.Name) == 0 {
				c.later(dataBackoff, func() { d.probeTopics(done) })
				return
			}
		}
		d.probeEach(c.knownPartitions(w.dataTopicNames()), 0, done)
	})
}

// probeEach produces one record to tps[i] with acks=all and reads it back, then moves
// on to the next partition.
func (d *dataWorkload) probeEach(tps []TopicPartition, i int, done func()) {
	w := d.w
	c := d.probe
	if w.failure != nil || w.phase != phaseLiveness {
		return
	}
	if i == len(tps) {
		done()
		return
	}
	retry := func() { c.later(dataBackoff, func() { c.refreshTopics(func() { d.probeEach(tps, i, done) }) }) }
	tp := tps[i]
	d.probes++
	c.produceOnce(tp, fmt.Sprintf("probe-%d", d.probes), func(op *Op) {
		if op.Outcome != OK {
			retry()
			return
		}
		var read func()
		read = func() {
			c.fetchOnce(tp, op.Offset, 1, func(f *Op) {
				if w.failure != nil || w.phase != phaseLiveness {
					return
				}
				if f.Outcome == OK && len(f.Records) > 0 && f.Records[0].Offset == op.Offset {
					d.probeEach(tps, i+1, done)
					return
				}
				c.later(dataBackoff, func() { c.refreshTopics(read) })
			})
		}
		read()
	})
}

// produceOnce sends one record with acks=all as a plain producer would, and calls done
// with the finished operation.
func (c *Client) produceOnce(tp TopicPartition, value string, done func(*Op)) {
	w := c.w
	p := &producer{c: c, spec: ProducerSpec{Acks: -1, InFlightMax: 1, RecordsMax: 1}, pid: -1, epoch: -1, parts: map[TopicPartition]*prodPart{}}
	pp := p.part(tp)
	op := &Op{Kind: OpProduce, Topic: tp.Topic, Partition: tp.Partition, Values: []string{value}, Acks: -1,
		Producer: -1, Epoch: -1, Sequence: -1, Offset: -1, LeaderEpoch: -1}
	w.invoke(c, op)
	pp.pending = append(pp.pending, &prodBatch{op: op, deadline: w.now + int64(w.requestTimeout())})
	var wait func()
	wait = func() {
		if len(pp.pending) == 0 {
			done(op)
			return
		}
		if w.failure == nil {
			c.later(dataBackoff, wait)
		}
	}
	p.pump(pp)
	wait()
}

// waitProducers calls done once no producer holds a batch.
func (d *dataWorkload) waitProducers(done func()) {
	w := d.w
	if w.failure != nil {
		return
	}
	if d.producersIdle() {
		done()
		return
	}
	d.probe.later(dataBackoff, func() { d.waitProducers(done) })
}

// finalReadAll reads every data partition from offset 0 to the high watermark its
// first read answered.
func (d *dataWorkload) finalReadAll(done func()) {
	w := d.w
	w.phase = phaseFinalReads
	w.recordPhase(phaseFinalReads, "final reads: every data partition is read completely, then every topic is described")
	d.final = w.addClient(roleReader)
	d.final.later(w.cfg.LivenessBound, func() {
		if !d.drained && w.failure == nil {
			checker := "liveness"
			if d.groupGap() {
				checker = "groups"
			}
			w.fail(checker, -1, "final reads of the data partitions and consumer groups did not complete within %v\n%s", w.cfg.LivenessBound, d.groupCoverage())
		}
	})
	d.final.refreshTopics(func() {
		tps := d.final.knownPartitions(w.dataTopicNames())
		d.finalReadEach(tps, 0, done)
	})
}

func (d *dataWorkload) finalReadEach(tps []TopicPartition, i int, done func()) {
	if i == len(tps) {
		done()
		return
	}
	d.finalRead(tps[i], 0, -1, func() { d.finalReadEach(tps, i+1, done) })
}

// finalRead reads tp from pos until target (the first answer's high watermark), then
// reads once more at the target: if the high watermark moved meanwhile, it reads on to
// the new one.
func (d *dataWorkload) finalRead(tp TopicPartition, pos, target int64, done func()) {
	w := d.w
	c := d.final
	if w.failure != nil {
		return
	}
	c.fetchOnce(tp, pos, 1, func(op *Op) {
		if w.failure != nil {
			return
		}
		if op.Outcome != OK {
			c.later(dataBackoff, func() { c.refreshTopics(func() { d.finalRead(tp, pos, target, done) }) })
			return
		}
		op.Final = true
		if pos >= target && op.HW <= pos {
			d.finalHW[tp] = pos
			done()
			return
		}
		target = max(target, op.HW)
		next := pos
		for _, r := range op.Records {
			if r.Offset >= target {
				break
			}
			d.finalReads[tp] = append(d.finalReads[tp], r)
			next = r.Offset + 1
		}
		if next == pos && pos < target {
			// Nothing came back below the target: let the fetch wait and try again.
			c.later(dataBackoff, func() { d.finalRead(tp, pos, target, done) })
			return
		}
		d.finalRead(tp, next, target, done)
	})
}

// drainGroups waits until every consumer group has processed every partition of its
// topics up to the final read, then calls done.
func (d *dataWorkload) drainGroups(done func()) {
	w := d.w
	if w.failure != nil {
		return
	}
	for _, g := range d.groups {
		if !g.caughtUp() {
			d.final.later(dataBackoff, func() { d.drainGroups(done) })
			return
		}
	}
	d.drained = true
	done()
}

// groupGap reports whether a group processed records of a partition beyond a hole it
// never processed: a commit ran ahead of processing, or a member skipped records.
func (d *dataWorkload) groupGap() bool {
	for _, g := range d.groups {
		for _, spans := range g.processed {
			if len(spans) > 1 || (len(spans) == 1 && spans[0].from > 0) {
				return true
			}
		}
	}
	return false
}

// finalPartitions lists the partitions finally read, sorted.
func (d *dataWorkload) finalPartitions() []TopicPartition {
	tps := make([]TopicPartition, 0, len(d.finalHW))
	for tp := range d.finalHW {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, compareTP)
	return tps
}
