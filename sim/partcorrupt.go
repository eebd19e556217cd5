package sim

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/storage"
	"github.com/seedlog/seedlog/traces"
)

// Partition corruption (FaultConfig.PartitionCorrupt) damages synced partition data at
// rest: bits flipped in a batch of a closed segment, or a 512-byte sector of one lost
// (read back as zeros). A segment qualifies only when it is closed and wholly below the
// log's checkpointed recovery point, so every byte damaged was synced: recovery and
// reads must treat it as damage, never as a torn tail. The damage always reaches a byte
// a check covers (a batch's leader epoch alone is covered by nothing, see storage).
//
// Budget. Damage never makes a node unable to start, and the protocol must survive it
// whenever an in-sync copy stays intact, so it is injected on any broker, up or down,
// any number of times. With AllCopiesPPM the same batch is damaged on every replica
// that holds it in a closed segment, and with replication factor 1 there is one copy
// only: the seeds where no intact copy exists and the partition must fence the range.
//
// The aborted-transactions index of a closed segment below the recovery point (its
// .txnindex file, synced with the data) is damaged too, one time in two when a segment
// has one, on a node that is down when one is, else on one that then crashes (in seeds
// that crash nodes): only a restart reads the index back. The restarted replica must list the aborts it lost
// again, or a read_committed consumer reads aborted records.
//
// Ground truth. Every damaged batch is recorded per node and log (partDamage); the
// checkers compare what replicas fence with it and what clients lose with what the
// partition declared lost.

// offRange is a range of offsets [from, to).
type offRange struct{ from, to int64 }

func (r offRange) contains(o int64) bool { return r.from <= o && o < r.to }

// partDamage records the batches faults damaged, per node and log, in the order they
// were damaged.
type partDamage map[int32]map[disk.LogID][]offRange

func (d partDamage) add(node int32, log disk.LogID, r offRange) {
	if d[node] == nil {
		d[node] = map[disk.LogID][]offRange{}
	}
	d[node][log] = append(d[node][log], r)
}

// overlaps reports whether a fault damaged a batch of log on node within r.
func (d partDamage) overlaps(node int32, log disk.LogID, r offRange) bool {
	return slices.ContainsFunc(d[node][log], func(x offRange) bool { return x.from < r.to && r.from < x.to })
}

// batchSpan is one batch of a segment file, or a damaged stretch of it (damaged): bytes
// where no valid batch starts, holding the offsets [base, next) whose batches' layout the
// damage hides.
type batchSpan struct {
	pos, size  int64
	base, next int64
	damaged    bool
}

// segmentBatches walks the bytes of a segment file that holds the offsets [base, end) as
// storage's recovery does: batches that validate and continue the offsets, and where one
// does not, a damaged stretch up to where valid batches resume. A walk that stopped at
// the first bad batch would lose sight of every batch after it, and damage to them would
// go unrecorded.
func segmentBatches(data []byte, base, end int64) []batchSpan {
	var out []batchSpan
	expected := base
	for pos := int64(0); pos < int64(len(data)); {
		if h, ok := validBatchAt(data, pos); ok && h.BaseOffset == expected {
			out = append(out, batchSpan{pos: pos, size: int64(h.Size()), base: h.BaseOffset, next: h.NextOffset()})
			pos += int64(h.Size())
			expected = h.NextOffset()
			continue
		}
		stretch := batchSpan{pos: pos, size: int64(len(data)) - pos, base: expected, next: max(end, expected), damaged: true}
		q, h, ok := resumeAt(data, pos+1, expected, end)
		if ok {
			stretch.size, stretch.next = q-pos, h.BaseOffset
		}
		out = append(out, stretch)
		if !ok {
			break
		}
		pos, expected = q, h.BaseOffset
	}
	return out
}

// validBatchAt parses and validates the batch at pos of data.
func validBatchAt(data []byte, pos int64) (record.Header, bool) {
	h, err := record.Check(data[pos:])
	return h, err == nil && h.LastOffsetDelta >= 0
}

// resumeAt finds where valid batches resume at or after from, as storage's resync does:
// a batch that validates, has a base offset in (after, end), and ends the data or is
// followed by a valid batch that continues its offsets.
func resumeAt(data []byte, from, after, end int64) (int64, record.Header, bool) {
	for q := from; q+record.HeaderSize <= int64(len(data)); q++ {
		h, ok := validBatchAt(data, q)
		if !ok || h.BaseOffset <= after || h.BaseOffset >= end {
			continue
		}
		next := q + int64(h.Size())
		if next == int64(len(data)) {
			return q, h, true
		}
		if nh, ok := validBatchAt(data, next); ok && nh.BaseOffset == h.NextOffset() {
			return q, h, true
		}
	}
	return -1, record.Header{}, false
}

// segmentOffsets returns the offsets [base, end) of a closed segment file on n's disk:
// its base names it, and the next segment's base ends it.
func segmentOffsets(n *simNode, file string) (base, end int64, ok bool) {
	dir, name := path.Split(file)
	base, _, ok = storage.ParseSegmentFileName(name)
	if !ok {
		return 0, 0, false
	}
	names, err := n.fs.List(path.Clean(dir))
	if err != nil {
		return 0, 0, false
	}
	end, found := int64(0), false
	for _, other := range names {
		if b, suffix, ok := storage.ParseSegmentFileName(other); ok && suffix == storage.LogFileSuffix && b > base && (!found || b < end) {
			end, found = b, true
		}
	}
	return base, end, found
}

// readSegment reads a closed segment file of n's disk and walks its batches.
func readSegment(n *simNode, file string) ([]byte, []batchSpan, error) {
	base, end, ok := segmentOffsets(n, file)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a closed segment on node %d", file, n.spec.ID)
	}
	data, err := storage.ReadFile(n.fs, file)
	if err != nil {
		return nil, nil, err
	}
	return data, segmentBatches(data, base, end), nil
}

// closedSegments lists the segment files of log directory dir on n's disk that may be
// damaged: closed (a later segment exists) and below the checkpointed recovery point.
func closedSegments(n *simNode, dir string) []string {
	names, err := n.fs.List(dir)
	if err != nil {
		return nil
	}
	var bases []int64
	for _, name := range names {
		if base, suffix, ok := storage.ParseSegmentFileName(name); ok && suffix == storage.LogFileSuffix {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)
	_, rp, err := storage.ReadOffsetsCheckpoint(n.fs, dir)
	if err != nil {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(bases); i++ {
		if bases[i+1] <= rp {
			out = append(out, path.Join(dir, storage.SegmentFileName(bases[i], storage.LogFileSuffix)))
		}
	}
	return out
}

// isPartitionSegment reports whether a file is a segment of a partition log (not of
// the metadata log).
func isPartitionSegment(p string) bool {
	dir, name := path.Split(p)
	_, suffix, ok := storage.ParseSegmentFileName(name)
	return ok && suffix == storage.LogFileSuffix && strings.Count(p, "/") == 1 &&
		strings.TrimSuffix(dir, "/") != string(disk.MetadataLog)
}

// dataLogs lists the logs of data partitions on n's disk, sorted.
func (f *faultSchedule) dataLogs(n *simNode) []string {
	names, err := n.fs.List(".")
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range names {
		topic, _, ok := disk.ParsePartitionLog(disk.LogID(name))
		if _, data := f.w.cfg.Data.topic(topic); ok && data {
			out = append(out, name)
		}
	}
	return out
}

// partitionCorrupt draws one damage to a closed segment of a data partition: two times
// in three on a node that leads the partition (where reads meet damage, and where a
// wrong choice loses data), else on any broker that holds one.
func (f *faultSchedule) partitionCorrupt() bool {
	type target struct {
		n    *simNode
		file string
	}
	var all, led []target
	for _, n := range f.w.nodes {
		if !n.spec.Broker {
			continue
		}
		for _, dir := range f.dataLogs(n) {
			leads := f.leaderOf(dir) == n
			for _, file := range closedSegments(n, dir) {
				all = append(all, target{n, file})
				if leads {
					led = append(led, target{n, file})
				}
			}
		}
	}
	if len(all) == 0 {
		f.w.cov.Inc("fault:partition-corrupt-no-closed-segment")
		return false
	}
	var indexes, down []target
	for _, t := range all {
		name := strings.TrimSuffix(t.file, storage.LogFileSuffix) + storage.TxnIndexFileSuffix
		if info, err := t.n.fs.Stat(name); err == nil && info.Size > 0 {
			indexes = append(indexes, target{t.n, name})
			if !t.n.up {
				down = append(down, target{t.n, name})
			}
		}
	}
	if len(down) > 0 {
		indexes = down // its restart meets the damage
	}
	if len(indexes) > 0 && f.rng.IntN(2) == 0 {
		t := indexes[f.rng.IntN(len(indexes))]
		info, _ := t.n.fs.Stat(t.file)
		at := f.rng.Int64N(info.Size)
		f.apply(Step{Kind: StepCorrupt, Node: t.n.spec.ID, File: t.file, Offset: at, Bytes: 1 + f.rng.IntN(int(min(4, info.Size-at)))}, nil)
		if t.n.up && t.n.armed == armNone && f.cfg.Crash {
			// Only a restart reads the index back: where the seed crashes nodes, the node
			// crashes to meet the damage.
			f.apply(Step{Kind: StepCrash, Node: t.n.spec.ID, Down: f.duration(max(f.cfg.DowntimeMax, time.Second))}, nil)
		}
		return true
	}
	pool := all
	if len(led) > 0 && f.rng.IntN(3) != 0 {
		pool = led
	}
	t := pool[f.rng.IntN(len(pool))]
	n, file := t.n, t.file
	data, batches, err := readSegment(n, file)
	if err != nil {
		return false
	}
	if len(batches) == 0 {
		return false
	}
	b := batches[f.rng.IntN(len(batches))]
	lose := f.rng.IntN(3) == 0
	st := f.flipStep(n, file, b)
	if lose {
		sector := (b.pos + f.rng.Int64N(b.size)) / 512 * 512
		tear := Step{Kind: StepCorrupt, Node: n.spec.ID, File: file, Offset: sector, Bytes: 512, Lose: true}
		if _, ok := damagedBatches(data, batches, tear); ok {
			st = tear
		}
	}
	every := f.rng.Int64N(1_000_000) < f.cfg.AllCopiesPPM
	f.apply(st, nil)
	if every {
		f.damageEveryCopy(n.spec.ID, path.Dir(file), b.base)
	}
	return true
}

// leaderOf returns the node that leads the partition of log dir in the quorum leader's
// image, nil when none does.
func (f *faultSchedule) leaderOf(dir string) *simNode {
	topic, p, ok := disk.ParsePartitionLog(disk.LogID(dir))
	v := f.w.View()
	seer, found := v.QuorumLeader()
	if !ok || !found {
		return nil
	}
	md, ok := v.Metadata(seer)
	if !ok {
		return nil
	}
	for _, t := range md.Topics {
		if t.Name == topic && int(p) < len(t.Leaders) && t.Leaders[p] >= 0 {
			return f.w.node(t.Leaders[p])
		}
	}
	return nil
}

// flipStep draws bits to flip in batch b of file: 1 to 8 bytes from a position outside
// the batch's leader epoch field, within the batch.
func (f *faultSchedule) flipStep(n *simNode, file string, b batchSpan) Step {
	var rel int64
	for {
		rel = f.rng.Int64N(b.size)
		if rel < 12 || rel >= 16 {
			break
		}
	}
	size := 1 + f.rng.IntN(int(min(8, b.size-rel)))
	return Step{Kind: StepCorrupt, Node: n.spec.ID, File: file, Offset: b.pos + rel, Bytes: size}
}

// damageEveryCopy damages the batch based at base of log dir on every other broker that
// holds it in a closed segment below its recovery point.
func (f *faultSchedule) damageEveryCopy(done int32, dir string, base int64) {
	f.w.cov.Inc("fault:partition-corrupt-every-copy")
	for _, n := range f.w.nodes {
		if !n.spec.Broker || n.spec.ID == done {
			continue
		}
		for _, file := range closedSegments(n, dir) {
			_, batches, err := readSegment(n, file)
			if err != nil {
				continue
			}
			i := slices.IndexFunc(batches, func(b batchSpan) bool { return b.base == base })
			if i < 0 {
				continue
			}
			f.apply(f.flipStep(n, file, batches[i]), nil)
			break
		}
	}
}

// damagedBatches returns the batches of a segment's bytes (walked into spans) that the
// step changes, and whether each of them changes where a check sees it (not only in its
// leader epoch). A damaged stretch the step changes counts whole: which of its batches
// the bytes belong to is unknown, and every one of them is damaged already.
func damagedBatches(data []byte, spans []batchSpan, st Step) ([]batchSpan, bool) {
	end := min(st.Offset+int64(st.Bytes), int64(len(data)))
	var out []batchSpan
	for _, b := range spans {
		if b.pos+b.size <= st.Offset || b.pos >= end {
			continue
		}
		seen, epochOnly := false, true
		for p := max(b.pos, st.Offset); p < min(b.pos+b.size, end); p++ {
			if st.Lose && data[p] == 0 {
				continue // a byte that reads zero already does not change
			}
			seen = true
			if rel := p - b.pos; b.damaged || rel < 12 || rel >= 16 {
				epochOnly = false
			}
		}
		if !seen {
			continue
		}
		if epochOnly {
			return nil, false
		}
		out = append(out, b)
	}
	return out, len(out) > 0
}

// partitionTargetProblem says why a partition corruption step cannot apply to n's disk
// now ("" when it can): the file must be a closed segment below its log's recovery
// point, and the damage must reach a byte a check covers.
func (f *faultSchedule) partitionTargetProblem(n *simNode, st *Step) string {
	if !n.spec.Broker {
		return fmt.Sprintf("node %d is no broker", n.spec.ID)
	}
	dir := path.Dir(st.File)
	if !slices.Contains(closedSegments(n, dir), st.File) {
		return fmt.Sprintf("%s is not a closed segment below its recovery point on node %d", st.File, n.spec.ID)
	}
	data, spans, err := readSegment(n, st.File)
	if err != nil || st.Offset >= int64(len(data)) {
		return fmt.Sprintf("node %d has no byte %d in %s", n.spec.ID, st.Offset, st.File)
	}
	if _, ok := damagedBatches(data, spans, *st); !ok {
		return fmt.Sprintf("the damage to %s at %d would change no byte a check covers", st.File, st.Offset)
	}
	return ""
}

// applyPartitionCorrupt damages a closed segment of a partition log at rest and records
// which batches it damaged.
func (f *faultSchedule) applyPartitionCorrupt(st Step, n *simNode) {
	w := f.w
	data, spans, err := readSegment(n, st.File)
	if err != nil {
		panic(err)
	}
	hit, _ := damagedBatches(data, spans, st)
	if st.Lose {
		err = n.fs.LoseAtRest(st.File, st.Offset, st.Bytes)
	} else {
		err = n.fs.CorruptAtRest(st.File, st.Offset, st.Bytes)
	}
	if err != nil {
		panic(err)
	}
	w.recordStep(st)
	log := disk.LogID(path.Dir(st.File))
	for _, b := range hit {
		f.partDamage.add(n.spec.ID, log, offRange{b.base, b.next})
	}
	what := "bits flipped"
	if st.Lose {
		what = "a sector lost"
		w.cov.Inc("fault:partition-sector-lost")
	} else {
		w.cov.Inc("fault:partition-corrupt")
	}
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultCorrupt, Node: n.spec.ID, Peer: -1, A: st.Offset, B: int64(st.Bytes), Hash: xxhash.Sum64String(st.File)},
		func() string {
			return fmt.Sprintf("node %d: %s at rest in %s at %d (%d bytes): batches %v damaged", n.spec.ID, what, st.File, st.Offset, st.Bytes, hit)
		})
}

// isPartitionTxnIndex reports whether a file is the aborted-transactions index of a
// segment of a partition log.
func isPartitionTxnIndex(p string) bool {
	_, name := path.Split(p)
	_, suffix, ok := storage.ParseSegmentFileName(name)
	return ok && suffix == storage.TxnIndexFileSuffix && strings.Count(p, "/") == 1
}

// txnIndexTargetProblem says why st may not damage the aborted-transactions index it
// names: it must belong to a closed segment below its recovery point (synced).
func (f *faultSchedule) txnIndexTargetProblem(n *simNode, st *Step) string {
	if !n.spec.Broker {
		return fmt.Sprintf("node %d is no broker", n.spec.ID)
	}
	seg := strings.TrimSuffix(st.File, storage.TxnIndexFileSuffix) + storage.LogFileSuffix
	if !slices.Contains(closedSegments(n, path.Dir(st.File)), seg) {
		return fmt.Sprintf("%s is not the index of a closed segment below its recovery point on node %d", st.File, n.spec.ID)
	}
	if info, err := n.fs.Stat(st.File); err != nil || st.Offset >= info.Size {
		return fmt.Sprintf("node %d has no byte %d in %s", n.spec.ID, st.Offset, st.File)
	}
	return ""
}

// applyTxnIndexCorrupt flips bits of an aborted-transactions index at rest.
func (f *faultSchedule) applyTxnIndexCorrupt(st Step, n *simNode) {
	w := f.w
	if err := n.fs.CorruptAtRest(st.File, st.Offset, st.Bytes); err != nil {
		panic(err)
	}
	w.recordStep(st)
	w.cov.Inc("fault:txnindex-corrupt")
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultCorrupt, Node: n.spec.ID, Peer: -1, A: st.Offset, B: int64(st.Bytes), Hash: xxhash.Sum64String(st.File)},
		func() string {
			return fmt.Sprintf("node %d: bits flipped at rest in %s at %d (%d bytes)", n.spec.ID, st.File, st.Offset, st.Bytes)
		})
}
