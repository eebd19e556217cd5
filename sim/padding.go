package sim

import (
	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Bigger records. A producer with ValueBytesMax (wide.go) gives each record a key of
// padding beside its value, so that records and batches grow up to the brokers'
// message.max.bytes while values stay short names that identify the write. The size
// of a record's padding follows from the run's seed and the record's value, so a
// replay of a schedule pads its records as the run did. The padding is cut from one
// buffer per run, text-like so that codecs have something to compress.

// paddingBudget bounds the padding one producer sends over a run: a seed of big
// records stays within the memory of a sweep.
const paddingBudget = 1 << 20

// defaultMessageBytesMax is the brokers' message.max.bytes unless a seed lowers it.
const defaultMessageBytesMax = core.MessageBytesMaxDefault

// largeRecordBytes is the padding from which a record counts as large.
const largeRecordBytes = 4 << 10

// batchOverheadBytes is about what a record adds to a batch beyond its key.
const batchOverheadBytes = 40

// records makes the records of a batch of values to topic, with their padding: in the
// key, or on a compacted topic, whose keys are the cleaner's, in a header.
func (p *producer) records(topic string, values []string) []kmsg.Record {
	recs := valuesOf(values)
	t, _ := p.c.w.cfg.Data.topic(topic)
	if t.Compact {
		shapeCompacted(t, recs, values)
	}
	limit := p.spec.ValueBytesMax
	if limit <= 0 || p.padded >= paddingBudget {
		return recs
	}
	w := p.c.w
	buf := w.paddingBuffer()
	total := 0
	sizes := make([]int, len(recs))
	for i, v := range values {
		h := xxhash.Sum64String(v) ^ w.cfg.Seed*0x9e3779b97f4a7c15
		size := int(h % uint64(limit+1))
		if h>>63 != 0 {
			// Half of them small, the others up to the bound.
			size = size * int(h>>32%64) / 64
		}
		sizes[i] = size
		total += size + batchOverheadBytes
	}
	if p.spec.Idempotent {
		// Only plain producers send batches above the limit (refused, with no effect):
		// an idempotent one would retry them until it gives up on the partition.
		if room := w.messageBytesMax() - 1024; total > room {
			for i := range sizes {
				sizes[i] = sizes[i] * room / total
			}
		}
	}
	for i, v := range values {
		off := int(xxhash.Sum64String(v) % uint64(len(buf)-sizes[i]+1))
		if t.Compact {
			recs[i].Headers = append(recs[i].Headers, kmsg.Header{Key: "pad", Value: buf[off : off+sizes[i]]})
		} else {
			recs[i].Key = buf[off : off+sizes[i]]
		}
		p.padded += sizes[i]
		if sizes[i] >= largeRecordBytes {
			p.large = true
		}
	}
	return recs
}

// messageBytesMax is the brokers' message.max.bytes.
func (w *World) messageBytesMax() int {
	if m := w.cfg.Wide.MessageBytesMax; m > 0 {
		return int(m)
	}
	return int(defaultMessageBytesMax)
}

// fetchBytesMax bounds the max.bytes a client's fetch draws: 64 KiB, or room for
// several of the largest padded records, so that consumers keep up with producers of
// big records as real ones, whose fetches take megabytes, do.
func (w *World) fetchBytesMax() int {
	n := 64 << 10
	for _, p := range w.cfg.Data.Producers {
		n = max(n, 8*p.ValueBytesMax)
	}
	return n
}

// paddingBuffer returns the run's padding, made at first use: words of a small
// vocabulary and random bytes, as long as the largest padding plus room to start it
// anywhere.
func (w *World) paddingBuffer() []byte {
	if w.padding != nil {
		return w.padding
	}
	n := 64 << 10
	for _, p := range w.cfg.Data.Producers {
		n = max(n, p.ValueBytesMax+64<<10)
	}
	rng := Stream(w.cfg.Seed, streamWide, 1)
	words := []string{"seedlog ", "record ", "batch ", "offset ", "leader ", "replica ", "segment ", "epoch "}
	buf := make([]byte, 0, n+16)
	for len(buf) < n {
		if rng.IntN(4) == 0 {
			buf = append(buf, byte(rng.Uint32()))
			continue
		}
		buf = append(buf, words[rng.IntN(len(words))]...)
	}
	w.padding = buf[:n]
	return w.padding
}

// countKind counts the first attempt of a workload producer's batch by kind.
func (p *producer) countKind(b *prodBatch) {
	if p.c.role != roleProducer {
		return
	}
	cov := p.c.w.cov
	switch {
	case p.spec.Idempotent:
		cov.Inc("workload:produce-idempotent")
	case p.spec.Acks == -1:
		cov.Inc("workload:produce-acks-all")
	case p.spec.Acks == 1:
		cov.Inc("workload:produce-acks-1")
	default:
		cov.Inc("workload:produce-acks-0")
	}
	if p.spec.Codec != 0 {
		cov.Inc("workload:produce-compressed")
	}
	if p.large {
		p.large = false
		cov.Inc("workload:produce-large")
	}
}

// countRefused counts a batch refused for its size.
func (p *producer) countRefused(code int16) {
	if code == errMessageTooLarge || code == errRecordListTooLarge {
		p.c.w.cov.Inc("workload:produce-too-large")
	}
}

// countWorkload counts an operation of the workload's clients by kind, as it
// completes (the gate's workload items).
func (w *World) countWorkload(op *Op) {
	if op.Client < 1 || int(op.Client) > len(w.clients) || op.Outcome != OK {
		return
	}
	switch role := w.clients[op.Client-1].role; {
	case role == roleWorkload:
		w.cov.Inc("workload:admin")
	case role == roleConsumer && op.Kind == OpFetch:
		w.cov.Inc("workload:read")
	case role == roleConsumer && op.Kind == OpListOffsets:
		w.cov.Inc("workload:list-offsets")
	case role == roleMember && op.Kind == OpJoin:
		w.cov.Inc("workload:group")
	case role == roleGrower && op.Kind == OpCreatePartitions:
		w.cov.Inc("workload:grow")
	case role == roleOffsetAdmin && op.Kind == OpOffsetDelete:
		w.cov.Inc("workload:offset-delete")
	case role == roleCredentials && op.Kind != OpAuthenticate:
		w.cov.Inc("workload:credentials")
	}
}
