package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The log history checker: a fast, specific check of produce and fetch histories, the
// complement of Porcupine for partition logs. Records are identified by a unique value
// their producer wrote. It reports:
//
//   - lost: an acknowledged acks=all produce whose record is missing from the final
//     complete read, or any acknowledged produce whose record sits at another offset than
//     the one acknowledged;
//   - lost-read: a record some fetch read at an offset the final read does not reach;
//   - duplicate: one value at two offsets;
//   - torn: the records of one batch not side by side in the log, or only some of them;
//   - reorder: two produces to one partition where the first was acknowledged before the
//     second was invoked, but the second's record sits at a lower offset;
//   - phantom: a record read that no produce wrote, or that a produce refused with a
//     definite error (or never sent) wrote;
//   - gap: the final read's offsets are not dense from 0 up to its high watermark;
//   - inconsistent: two reads disagreeing about the record at one offset;
//   - above-hw: a fetch returning a record at or above the high watermark it answered;
//   - backwards: a client seeing a partition's high watermark decrease, or any read
//     seeing a high watermark above the final read's;
//   - stale: a read that began after an acks=all produce was acknowledged, with a high
//     watermark not above that produce's offset;
//   - earliest: a lookup of the earliest offset answering anything but 0 on a partition
//     whose records are never deleted, or above the final high watermark on one whose
//     are;
//   - deleted: a final read starting above every offset DeleteRecords asked for, on a
//     partition only DeleteRecords deletes from (see deletion.go);
//   - fenced: the final read answered CORRUPT_MESSAGE at an offset no leader declared
//     lost (Declared: fenced while it was the only member of its ISR). Reads may fail
//     only where no in-sync copy was left intact;
//   - damage-lost (allowed): an acknowledged acks=all record at an offset the partition
//     declared lost. It was on every in-sync replica, and every one of them was
//     damaged: the run reports it as allowed by the damage, not as a failure.
//   - damage-duplicate (allowed): a duplicate whose first copy sits in a range the
//     partition declared lost, the second above it: a retry of a batch never
//     acknowledged at the lost offset (an acknowledged one is still checked by lost).
//
// Where records may be deleted (retention, DeleteRecords), the final read begins at
// the partition's log start (Start): records below it are gone, and only their reads
// are checked.

// LogRecord is a record read at an offset. Fenced marks an offset of a final read that
// answered CORRUPT_MESSAGE: no record, the partition fenced it (Value is empty).
// Control marks a transaction marker, whose Value names it (markerValue): it holds an
// offset like any record, and is no producer's write.
type LogRecord struct {
	Offset  int64
	Value   string
	Fenced  bool
	Control bool
}

func (r LogRecord) String() string {
	if r.Fenced {
		return fmt.Sprintf("{%d fenced}", r.Offset)
	}
	return fmt.Sprintf("{%d %s}", r.Offset, r.Value)
}

// LogProduce is one produce of one record.
type LogProduce struct {
	Client    int32
	Partition string
	Value     string
	Call      int64
	Return    int64
	// Outcome OK means acknowledged at Offset (-1 when the answer did not say). Failed
	// means nothing was written: the request never left the client (NotSent) or was
	// refused with an error that says so. Indeterminate may have been written.
	Outcome Outcome
	Offset  int64
	NotSent bool
	// Weak marks an acknowledgement that promises no durability (acks 0 or 1): the
	// record may be lost, but if it stays it stays at the offset acknowledged.
	Weak bool
	// Batch names the produce (operation) the record belongs to, Index its place in the
	// batch; Batch 0 means a batch of one.
	Batch int
	Index int
}

// LogFetch is one read of a partition (a fetch, or a lookup of the latest offset, which
// reads the high watermark).
type LogFetch struct {
	Client    int32
	Partition string
	Call      int64
	Return    int64
	Records   []LogRecord
	// HW is the high watermark the response carried.
	HW int64
}

// LogEarliest is a lookup of the earliest offset.
type LogEarliest struct {
	Client    int32
	Partition string
	Call      int64
	Return    int64
	Offset    int64
}

// LogHistory is what the checker reads. Final holds, per partition, a complete read of
// the log at the end of the run, in offset order, up to FinalHW when it is given.
type LogHistory struct {
	Produces []LogProduce
	Fetches  []LogFetch
	Earliest []LogEarliest
	Final    map[string][]LogRecord
	FinalHW  map[string]int64
	// Unread are the partitions no final read could reach (their ISR was left down, or
	// too few replicas were left to move their high watermark): their acknowledged
	// records cannot be looked for, only their reads checked.
	Unread map[string]bool
	// Start is where a partition's final read begins, its log start at the end (absent:
	// 0). MayDelete marks the partitions whose records may be deleted; DeleteOnly those
	// of them only DeleteRecords deletes from, and Deletes holds the DeleteRecords that
	// may have taken effect.
	Start      map[string]int64
	MayDelete  map[string]bool
	DeleteOnly map[string]bool
	Deletes    []LogDelete
	// Declared holds, per partition, the offset ranges [from, to) a leader declared lost
	// (see "fenced" above).
	Declared map[string][][2]int64
	// Compacted holds the compacted partitions (compactcheck.go); FinalAt is when the
	// final reads had all returned.
	Compacted map[string]CompactedPartition
	FinalAt   int64
	// CompactedAway is set by the checker: the acknowledged records missing from final
	// reads that the cleaner removed.
	CompactedAway int
	// RetainedAtLeast holds the partitions only retention.ms deletes from, with the least
	// time a record stays (retention.ms, less what the nodes' clocks may be ahead): a
	// lookup of the earliest offset, or the final read's start, above a record younger
	// than that is a deletion retention did not allow (retained).
	RetainedAtLeast map[string]time.Duration
}

// LogDelete is one DeleteRecords that may have taken effect: below Offset, or below
// the high watermark when Offset is -1.
type LogDelete struct {
	Client    int32
	Partition string
	Call      int64
	Offset    int64
}

// declared reports whether offset lies in a range the partition declared lost.
func (h *LogHistory) declared(partition string, offset int64) bool {
	for _, r := range h.Declared[partition] {
		if r[0] <= offset && offset < r[1] {
			return true
		}
	}
	return false
}

// LogViolation is one problem found.
type LogViolation struct {
	Kind      string
	Partition string
	Message   string
}

func (v LogViolation) String() string {
	return fmt.Sprintf("%s in %s: %s", v.Kind, v.Partition, v.Message)
}

// logViolationsMax bounds what the checker reports, and logKindMax what it reports of
// one kind (so one flood does not hide the others).
const (
	logViolationsMax = 20
	logKindMax       = 5
)

// CheckLog checks a log history and returns what it found (nil when the history is
// fine), in a deterministic order.
func CheckLog(h *LogHistory) []LogViolation {
	c := logChecker{h: h, at: map[string]map[int64]string{}, where: map[string]map[string]int64{}, kinds: map[string]int{}}
	// Every check runs even when reads disagree: the final read comes first and is what
	// the others compare with, so a lost record is reported as lost too.
	c.readsAgree()
	c.dense()
	c.fenced()
	c.lostAndReordered()
	c.torn()
	c.compactedReads()
	c.retained()
	c.phantoms()
	c.watermarks()
	c.earliest()
	c.deleted()
	return c.out
}

type logChecker struct {
	h *LogHistory
	// at maps partition -> offset -> value, from every read; where maps partition ->
	// value -> offset.
	at    map[string]map[int64]string
	where map[string]map[string]int64
	out   []LogViolation
	kinds map[string]int
	// fencedAt maps partition -> offsets the final read found fenced.
	fencedAt map[string]map[int64]bool
	// compactedLogs indexes the compacted partitions, built at first use.
	compactedLogs map[string]*compactedLog
}

func (c *logChecker) report(kind, partition, format string, args ...any) {
	if len(c.out) < logViolationsMax && c.kinds[kind] < logKindMax {
		c.kinds[kind]++
		c.out = append(c.out, LogViolation{Kind: kind, Partition: partition, Message: fmt.Sprintf(format, args...)})
	}
}

// see records that a read saw value at offset. source names the read (nil: the final
// read); it is formatted only for a report.
func (c *logChecker) see(partition string, r LogRecord, source *LogFetch) {
	at, where := c.at[partition], c.where[partition]
	if at == nil {
		at, where = map[int64]string{}, map[string]int64{}
		c.at[partition], c.where[partition] = at, where
	}
	if v, ok := at[r.Offset]; ok && v != r.Value {
		c.report("inconsistent", partition, "offset %d read as %q and as %q (%s)", r.Offset, v, r.Value, readName(source))
		return
	}
	if r.Control {
		// Markers of one producer id and epoch share a value: only the offset counts.
		at[r.Offset] = r.Value
		return
	}
	if o, ok := where[r.Value]; ok && o != r.Offset {
		first, second := min(o, r.Offset), max(o, r.Offset)
		if c.h.declared(partition, first) && !c.h.declared(partition, second) {
			// The first copy was lost with every in-sync copy of it; a producer still
			// retrying that batch (never acknowledged there) wrote it again after the log
			// end, and the idempotence state, rebuilt from the log, could not know it.
			c.report("damage-duplicate", partition, "value %q at offsets %d and %d (%s): the first sits in a range declared lost", r.Value, first, second, readName(source))
			return
		}
		c.report("duplicate", partition, "value %q at offsets %d and %d (%s)", r.Value, first, second, readName(source))
		return
	}
	at[r.Offset], where[r.Value] = r.Value, r.Offset
}

// readName names a read for a report.
func readName(f *LogFetch) string {
	if f == nil {
		return "final read"
	}
	return fmt.Sprintf("fetch by client %d at %v", f.Client, time.Duration(f.Call))
}

// readsAgree folds every read into the offset maps, checking they never disagree, and
// that fetches return only records below the high watermark they answered.
func (c *logChecker) readsAgree() {
	c.fencedAt = map[string]map[int64]bool{}
	for _, p := range sortedKeys(c.h.Final) {
		if c.at[p] == nil {
			// Fetches read what the final read holds: size the maps for it once.
			n := len(c.h.Final[p])
			c.at[p], c.where[p] = make(map[int64]string, n), make(map[string]int64, n)
		}
		for _, r := range c.h.Final[p] {
			if r.Fenced {
				if c.fencedAt[p] == nil {
					c.fencedAt[p] = map[int64]bool{}
				}
				c.fencedAt[p][r.Offset] = true
				continue
			}
			c.see(p, r, nil)
		}
	}
	for i := range c.h.Fetches {
		f := &c.h.Fetches[i]
		for _, r := range f.Records {
			if r.Offset >= f.HW {
				c.report("above-hw", f.Partition, "fetch by client %d at %v returned %q at offset %d with high watermark %d", f.Client, time.Duration(f.Call), r.Value, r.Offset, f.HW)
				return
			}
			c.see(f.Partition, r, f)
		}
	}
}

// dense checks that each final read holds every offset from its start to its high
// watermark.
func (c *logChecker) dense() {
	for _, p := range sortedKeys(c.h.Final) {
		if _, ok := c.h.Compacted[p]; ok {
			c.denseCompacted(p)
			continue
		}
		recs := c.h.Final[p]
		start := c.h.Start[p]
		for i, r := range recs {
			if r.Offset != start+int64(i) {
				c.report("gap", p, "the final read has offset %d where %d belongs", r.Offset, start+int64(i))
				break
			}
		}
		if hw, ok := c.h.FinalHW[p]; ok && start+int64(len(recs)) != hw {
			c.report("gap", p, "the final read holds %d records from %d below its high watermark %d", len(recs), start, hw)
		}
	}
}

// lostAndReordered checks acknowledged produces against the final read.
func (c *logChecker) lostAndReordered() {
	byPartition := map[string][]*LogProduce{}
	for i := range c.h.Produces {
		p := &c.h.Produces[i]
		if p.Outcome != OK {
			continue
		}
		if c.h.Unread[p.Partition] {
			// Only acks=all acknowledgements keep their offsets for sure (an acks=1
			// record may be lost and its offset reused).
			if p.Offset >= 0 && !p.Weak {
				byPartition[p.Partition] = append(byPartition[p.Partition], p)
			}
			continue
		}
		final, ok := c.finalOffset(p.Partition, p.Value)
		switch {
		case !ok && !p.Weak && c.deletedBelowStart(p):
			// Deleted by retention or DeleteRecords; its reads are still checked.
			if p.Offset >= 0 {
				byPartition[p.Partition] = append(byPartition[p.Partition], p)
			}
		case !ok && !p.Weak && c.compactedAway(p):
			c.h.CompactedAway++
			if p.Offset >= 0 {
				byPartition[p.Partition] = append(byPartition[p.Partition], p)
			}
		case !ok && !p.Weak && c.lostToDamage(p):
			c.report("damage-lost", p.Partition, "value %q acknowledged at offset %d to client %d at %v sits in a range declared lost: every in-sync copy was damaged", p.Value, p.Offset, p.Client, time.Duration(p.Return))
		case !ok && !p.Weak:
			c.report("lost", p.Partition, "value %q acknowledged at offset %d to client %d at %v is not in the final read", p.Value, p.Offset, p.Client, time.Duration(p.Return))
		case ok && p.Offset >= 0 && final != p.Offset:
			c.report("lost", p.Partition, "value %q acknowledged at offset %d is at offset %d in the final read", p.Value, p.Offset, final)
		case ok && p.Offset >= 0:
			byPartition[p.Partition] = append(byPartition[p.Partition], p)
		}
	}
	for _, part := range sortedKeys(c.h.FinalHW) {
		hw := c.h.FinalHW[part]
		for _, off := range sortedKeys(c.at[part]) {
			if off >= hw {
				c.report("lost-read", part, "value %q was read at offset %d, beyond the final read's high watermark %d", c.at[part][off], off, hw)
				break
			}
		}
	}
	for _, part := range sortedKeys(byPartition) {
		acked := byPartition[part]
		// Sort by completion; any produce invoked after an earlier one completed must
		// sit at a higher offset.
		byReturn := slices.Clone(acked)
		slices.SortStableFunc(byReturn, func(a, b *LogProduce) int { return cmp.Compare(a.Return, b.Return) })
		byCall := slices.Clone(acked)
		slices.SortStableFunc(byCall, func(a, b *LogProduce) int { return cmp.Compare(a.Call, b.Call) })
		j := 0
		var highest *LogProduce // the acknowledged produce with the highest offset so far
		for _, p := range byCall {
			for j < len(byReturn) && byReturn[j].Return < p.Call {
				if highest == nil || byReturn[j].Offset > highest.Offset {
					highest = byReturn[j]
				}
				j++
			}
			if highest != nil && p.Offset <= highest.Offset {
				c.report("reorder", part, "value %q (invoked %v) is at offset %d, not after %q at offset %d acknowledged at %v",
					p.Value, time.Duration(p.Call), p.Offset, highest.Value, highest.Offset, time.Duration(highest.Return))
			}
		}
	}
}

// fenced checks that the final read met fenced offsets only where a leader declared them
// lost.
func (c *logChecker) fenced() {
	for _, p := range sortedKeys(c.fencedAt) {
		for _, off := range sortedKeys(c.fencedAt[p]) {
			if !c.h.declared(p, off) {
				c.report("fenced", p, "the final read found offset %d fenced, but no leader alone in its ISR declared it lost", off)
				break
			}
		}
	}
}

// lostToDamage reports whether an acknowledged record missing from the final read sits
// at an offset the partition declared lost (or, when its offset is unknown, whether the
// partition lost any).
func (c *logChecker) lostToDamage(p *LogProduce) bool {
	if p.Offset < 0 {
		return len(c.fencedAt[p.Partition]) > 0
	}
	return c.fencedAt[p.Partition][p.Offset] && c.h.declared(p.Partition, p.Offset)
}

func (c *logChecker) finalOffset(partition, value string) (int64, bool) {
	if _, ok := c.h.Final[partition]; !ok {
		return 0, false
	}
	off, ok := c.where[partition][value]
	if !ok {
		return 0, false
	}
	if _, ok := c.h.Compacted[partition]; ok {
		return c.finalOffsetCompacted(partition, value, off)
	}
	// where holds every read; the final read is dense, so an offset below its end is in
	// it exactly when some read agreed with it (readsAgree passed).
	recs := c.h.Final[partition]
	i := off - c.h.Start[partition]
	if i < 0 || i >= int64(len(recs)) || recs[i].Fenced || recs[i].Value != value {
		return 0, false
	}
	return off, true
}

// deletedBelowStart reports whether an acknowledged record missing from the final
// read may have been deleted: its partition may delete records and it was
// acknowledged below the final read's start (or at an offset the answer did not say,
// with the start above 0).
func (c *logChecker) deletedBelowStart(p *LogProduce) bool {
	start := c.h.Start[p.Partition]
	if !c.h.MayDelete[p.Partition] || start == 0 {
		return false
	}
	return p.Offset < start
}

// torn checks that each batch is whole and contiguous in the final read, or absent.
func (c *logChecker) torn() {
	type key struct {
		partition string
		batch     int
	}
	batches := map[key][]*LogProduce{}
	var order []key
	for i := range c.h.Produces {
		p := &c.h.Produces[i]
		if p.Batch == 0 {
			continue
		}
		k := key{p.Partition, p.Batch}
		if _, ok := batches[k]; !ok {
			order = append(order, k)
		}
		batches[k] = append(batches[k], p)
	}
	for _, k := range order {
		recs := batches[k]
		start := c.h.Start[k.partition]
		base, present, deleted := int64(-1), 0, 0
		for _, p := range recs {
			if off, ok := c.finalOffset(p.Partition, p.Value); ok {
				present++
				if base < 0 {
					base = off - int64(p.Index)
				}
				if off != base+int64(p.Index) {
					c.report("torn", k.partition, "value %q of batch %d is at offset %d, not %d", p.Value, k.batch, off, base+int64(p.Index))
					return
				}
			}
		}
		if present != 0 && c.h.MayDelete[k.partition] {
			// Records of the batch below the final read's start were deleted.
			for _, p := range recs {
				if base+int64(p.Index) < start {
					deleted++
				}
			}
		}
		if present != 0 && present+deleted != len(recs) && !c.fencedPart(recs, base) && !c.compactedPart(recs, base) {
			c.report("torn", k.partition, "only %d of the %d records of batch %d are in the final read%s", present, len(recs), k.batch, c.compactedWhy(recs, base))
			return
		}
	}
}

// compactedAway reports whether an acknowledged record missing from the final read of a
// compacted partition may have been removed by its cleaner.
func (c *logChecker) compactedAway(p *LogProduce) bool {
	cl := c.compacted(p.Partition)
	if cl == nil {
		return false
	}
	ok, _ := cl.mayLack(p.Value, p.Offset, c.h.FinalAt)
	return ok
}

// compactedPart reports whether the records of a batch (based at base) that the final
// read of a compacted partition lacks may have been removed by its cleaner.
func (c *logChecker) compactedPart(recs []*LogProduce, base int64) bool {
	cl := c.compacted(recs[0].Partition)
	if cl == nil {
		return false
	}
	for _, p := range recs {
		if _, ok := c.finalOffset(p.Partition, p.Value); !ok {
			if may, _ := cl.mayLack(p.Value, base+int64(p.Index), c.h.FinalAt); !may {
				return false
			}
		}
	}
	return true
}

// compactedWhy says why the cleaner could not have removed the first record of a batch
// the final read of a compacted partition lacks ("" on other partitions).
func (c *logChecker) compactedWhy(recs []*LogProduce, base int64) string {
	cl := c.compacted(recs[0].Partition)
	if cl == nil {
		return ""
	}
	for _, p := range recs {
		if _, ok := c.finalOffset(p.Partition, p.Value); !ok {
			if may, why := cl.mayLack(p.Value, base+int64(p.Index), c.h.FinalAt); !may {
				return fmt.Sprintf(": %q at offset %d (key %s) cannot have been compacted away: %s", p.Value, base+int64(p.Index), compactKey(p.Value, cl.spec.Keys), why)
			}
		}
	}
	return ""
}

// fencedPart reports whether the records of a batch (based at base in the final read)
// that the final read lacks sit at fenced offsets: a fence cuts at batch boundaries of
// the log that held it, and a batch was damaged whole, but the part a follower copied
// before the damage stays.
func (c *logChecker) fencedPart(recs []*LogProduce, base int64) bool {
	for _, p := range recs {
		if _, ok := c.finalOffset(p.Partition, p.Value); !ok && !c.fencedAt[p.Partition][base+int64(p.Index)] {
			return false
		}
	}
	return true
}

// phantoms finds values read that no produce could have written.
func (c *logChecker) phantoms() {
	written := map[string]map[string]bool{}
	refused := map[string]map[string]*LogProduce{}
	for i := range c.h.Produces {
		p := &c.h.Produces[i]
		if p.Outcome == Failed {
			if refused[p.Partition] == nil {
				refused[p.Partition] = map[string]*LogProduce{}
			}
			refused[p.Partition][p.Value] = p
			continue
		}
		if written[p.Partition] == nil {
			written[p.Partition] = map[string]bool{}
		}
		written[p.Partition][p.Value] = true
	}
	for _, part := range sortedKeys(c.at) {
		for _, off := range sortedKeys(c.at[part]) {
			v := c.at[part][off]
			if isMarker(v) {
				continue // the coordinator's, checked by the transactions checker
			}
			if p := refused[part][v]; p != nil {
				c.report("phantom", part, "value %q read at offset %d belongs to a produce that failed definitively (client %d at %v)", v, off, p.Client, time.Duration(p.Call))
			} else if !written[part][v] {
				c.report("phantom", part, "value %q read at offset %d was never produced", v, off)
			}
		}
	}
}

// watermarks checks that no client sees a high watermark go back, that no read sees
// one above the final read's, and that a read that starts after an acknowledgement
// sees it.
func (c *logChecker) watermarks() {
	type key struct {
		client    int32
		partition string
	}
	fetches := slices.Clone(c.h.Fetches)
	slices.SortStableFunc(fetches, func(a, b LogFetch) int { return cmp.Compare(a.Return, b.Return) })
	last := map[key]LogFetch{}
	for _, f := range fetches {
		k := key{f.Client, f.Partition}
		if prev, ok := last[k]; ok && f.Call > prev.Return && f.HW < prev.HW {
			c.report("backwards", f.Partition, "client %d saw high watermark %d at %v, then %d at %v", f.Client, prev.HW, time.Duration(prev.Return), f.HW, time.Duration(f.Return))
		}
		if hw, ok := c.h.FinalHW[f.Partition]; ok && f.HW > hw {
			c.report("backwards", f.Partition, "client %d saw high watermark %d at %v, above the final read's %d", f.Client, f.HW, time.Duration(f.Return), hw)
		}
		last[k] = f
	}
	// For each partition, the acknowledged acks=all produces by completion time, with a
	// running maximum of their offsets: a read that began at t must see beyond the
	// maximum over those acknowledged before t.
	type ack struct {
		ret, off int64
		value    string
	}
	acked := map[string][]ack{}
	for _, p := range c.h.Produces {
		if p.Outcome == OK && !p.Weak && p.Offset >= 0 {
			acked[p.Partition] = append(acked[p.Partition], ack{p.Return, p.Offset, p.Value})
		}
	}
	for _, part := range sortedKeys(acked) {
		as := acked[part]
		slices.SortStableFunc(as, func(a, b ack) int { return cmp.Compare(a.ret, b.ret) })
		for i := 1; i < len(as); i++ {
			if as[i].off < as[i-1].off {
				as[i].off, as[i].value = as[i-1].off, as[i-1].value
			}
		}
		acked[part] = as
	}
	for _, f := range c.h.Fetches {
		as := acked[f.Partition]
		i, _ := slices.BinarySearchFunc(as, f.Call, func(a ack, t int64) int {
			if a.ret < t {
				return -1
			}
			return 1
		})
		if i > 0 && f.HW <= as[i-1].off {
			a := as[i-1]
			c.report("stale", f.Partition, "read by client %d at %v saw high watermark %d, below %q at offset %d acknowledged at %v",
				f.Client, time.Duration(f.Call), f.HW, a.value, a.off, time.Duration(a.ret))
		}
	}
}

// earliest checks lookups of the earliest offset.
func (c *logChecker) earliest() {
	for _, e := range c.h.Earliest {
		if c.h.MayDelete[e.Partition] {
			if hw, ok := c.h.FinalHW[e.Partition]; ok && e.Offset > hw {
				c.report("earliest", e.Partition, "client %d looked up the earliest offset at %v and got %d, above the final high watermark %d", e.Client, time.Duration(e.Call), e.Offset, hw)
				return
			}
			continue
		}
		if e.Offset != 0 {
			c.report("earliest", e.Partition, "client %d looked up the earliest offset at %v and got %d; nothing ever deleted records", e.Client, time.Duration(e.Call), e.Offset)
			return
		}
	}
}

// retained checks that retention deleted no record younger than its partition's
// retention.ms: every acknowledged record below a log start that a lookup answered, or
// below the final read's start, was written at least RetainedAtLeast before.
func (c *logChecker) retained() {
	if len(c.h.RetainedAtLeast) == 0 {
		return
	}
	type write struct {
		offset, call int64
		value        string
	}
	writes := map[string][]write{}
	for i := range c.h.Produces {
		p := &c.h.Produces[i]
		if _, ok := c.h.RetainedAtLeast[p.Partition]; ok && p.Outcome == OK && p.Offset >= 0 {
			writes[p.Partition] = append(writes[p.Partition], write{p.Offset, p.Call, p.Value})
		}
	}
	check := func(part string, start, at int64, what string) bool {
		least := int64(c.h.RetainedAtLeast[part])
		for _, w := range writes[part] {
			// A range the partition declared lost (every in-sync copy damaged) holds
			// nothing to read: retention may take it whatever its records' age.
			if w.offset < start && at-w.call < least && !c.h.declared(part, w.offset) {
				c.report("retained", part, "%s at %v answered log start %d, above %q at offset %d written at %v: younger than retention.ms allows (%v)",
					what, time.Duration(at), start, w.value, w.offset, time.Duration(w.call), time.Duration(least))
				return false
			}
		}
		return true
	}
	for _, e := range c.h.Earliest {
		if _, ok := c.h.RetainedAtLeast[e.Partition]; ok && !check(e.Partition, e.Offset, e.Return, fmt.Sprintf("a lookup by client %d", e.Client)) {
			return
		}
	}
	for _, part := range sortedKeys(c.h.RetainedAtLeast) {
		if s, ok := c.h.Start[part]; ok && !check(part, s, c.h.FinalAt, "the final read") {
			return
		}
	}
}

// FormatLogViolations renders violations one per line.
func FormatLogViolations(vs []LogViolation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.String())
		b.WriteByte('\n')
	}
	return b.String()
}
