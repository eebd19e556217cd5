package txn

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// The records of __transaction_state, in the layout of Kafka's TransactionLogKey and
// TransactionLogValue version 0: strings carry an int16 length, arrays an int32 count,
// integers are big-endian. The key is the transactional id; the value is the whole state
// of the transaction, so the last record of an id is all a loading coordinator needs. A
// nil value (tombstone) deletes the id. A transaction of a version-2 client (KIP-890 part
// 2) is written as value version 1, Kafka 4.0's: flexible (compact strings and arrays,
// tagged fields), with the previous and next producer ids and the client's transaction
// version as tags 0-2; unknown tags are skipped. Every other record stays version 0, so
// a cluster of version-1 clients writes what it wrote before.
const (
	keyVersion       = 0
	valueVersion     = 0
	valueVersionFlex = 1
)

// state is a transaction's state, numbered as Kafka stores it in the log.
type state int8

const (
	stateEmpty state = iota
	stateOngoing
	statePrepareCommit
	statePrepareAbort
	stateCompleteCommit
	stateCompleteAbort
	stateDead
	statePrepareEpochFence
	stateCount
)

var stateNames = [stateCount]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort",
	"CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// KnownState reports whether name is one of the states' names (ListTransactions lists
// the filters it does not know).
func KnownState(name string) bool { return slices.Contains(stateNames[:], name) }

func (s state) String() string {
	if s >= 0 && s < stateCount {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int8(s))
}

// preparing: the transaction's end is decided and its markers are on their way.
func (s state) preparing() bool { return s == statePrepareCommit || s == statePrepareAbort }

// complete: the last transaction ended and its markers are all written.
func (s state) complete() bool { return s == stateCompleteCommit || s == stateCompleteAbort }

// txnRecord is one transactional id's state as the log holds it.
type txnRecord struct {
	pid       int64
	epoch     int16
	timeoutMs int32
	state     state
	parts     []TopicPartition // sorted by topic and partition, no duplicates
	updateMs  int64            // when the record was written
	startMs   int64            // when the transaction became Ongoing; -1 when none began
	// tv is the transaction version of the client whose request wrote the transaction
	// (0: the first protocol; 2: an epoch bump at every end, KIP-890 part 2).
	tv int16
	// prevPid is the producer id before an epoch overflow moved a version-2 producer to
	// a new one, so that a retried EndTxn of the old id is recognised; nextPid is that
	// new id while the end that overflowed is being written (its markers carry the old
	// one). -1 when none.
	prevPid int64
	nextPid int64
}

// flexible: rec needs value version 1 to be written whole (the first protocol's
// records keep tv 0 and are written as version 0).
func (r txnRecord) flexible() bool { return r.tv != 0 || r.prevPid != -1 || r.nextPid != -1 }

var errRecord = errors.New("txn: malformed record")

func encodeKey(txnID string) []byte {
	b := binary.BigEndian.AppendUint16(nil, keyVersion)
	return appendString(b, txnID)
}

func encodeValue(r txnRecord) []byte {
	flex := r.flexible()
	version := uint16(valueVersion)
	if flex {
		version = valueVersionFlex
	}
	b := binary.BigEndian.AppendUint16(nil, version)
	b = binary.BigEndian.AppendUint64(b, uint64(r.pid))
	b = binary.BigEndian.AppendUint16(b, uint16(r.epoch))
	b = binary.BigEndian.AppendUint32(b, uint32(r.timeoutMs))
	b = append(b, byte(r.state))
	topics := topicRuns(r.parts)
	null := r.state == stateEmpty && len(topics) == 0 // Kafka writes Empty's partitions as null
	switch {
	case flex && null:
		b = append(b, 0)
	case flex:
		b = binary.AppendUvarint(b, uint64(len(topics))+1)
	case null:
		b = binary.BigEndian.AppendUint32(b, math.MaxUint32)
	default:
		b = binary.BigEndian.AppendUint32(b, uint32(len(topics)))
	}
	for _, run := range topics {
		if flex {
			b = binary.AppendUvarint(b, uint64(len(run[0].Topic))+1)
			b = append(b, run[0].Topic...)
			b = binary.AppendUvarint(b, uint64(len(run))+1)
		} else {
			b = appendString(b, run[0].Topic)
			b = binary.BigEndian.AppendUint32(b, uint32(len(run)))
		}
		for _, p := range run {
			b = binary.BigEndian.AppendUint32(b, uint32(p.Partition))
		}
		if flex {
			b = append(b, 0) // no tagged fields
		}
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.updateMs))
	b = binary.BigEndian.AppendUint64(b, uint64(r.startMs))
	if !flex {
		return b
	}
	var tags int
	for _, set := range []bool{r.prevPid != -1, r.nextPid != -1, r.tv != 0} {
		if set {
			tags++
		}
	}
	b = append(b, byte(tags))
	if r.prevPid != -1 {
		b = append(b, 0, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(r.prevPid))
	}
	if r.nextPid != -1 {
		b = append(b, 1, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(r.nextPid))
	}
	if r.tv != 0 {
		b = append(b, 2, 2)
		b = binary.BigEndian.AppendUint16(b, uint16(r.tv))
	}
	return b
}

// topicRuns splits sorted partitions into runs of one topic each.
func topicRuns(parts []TopicPartition) [][]TopicPartition {
	var out [][]TopicPartition
	for i := 0; i < len(parts); {
		j := i + 1
		for j < len(parts) && parts[j].Topic == parts[i].Topic {
			j++
		}
		out = append(out, parts[i:j])
		i = j
	}
	return out
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// reader decodes Kafka's fixed-width encodings; the first failure sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("%w: truncated", errRecord)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) i8() int8 {
	if v := r.take(1); v != nil {
		return int8(v[0])
	}
	return 0
}

func (r *reader) i16() int16 {
	if v := r.take(2); v != nil {
		return int16(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (r *reader) i32() int32 {
	if v := r.take(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

func (r *reader) i64() int64 {
	if v := r.take(8); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// str reads a string of at most max bytes (a negative length, Kafka's null, fails).
func (r *reader) str(max int, what string) string {
	n := int(r.i16())
	if r.err == nil && (n < 0 || n > max) {
		r.err = fmt.Errorf("%w: %s of length %d", errRecord, what, n)
	}
	return string(r.take(n))
}

// count reads an array count, bounded by max and by the bytes left for elements of at
// least unit bytes each, so that no damaged count makes the decoder allocate much.
// A count of -1 (null) is returned as it is.
func (r *reader) count(max, unit int, what string) int {
	n := int(r.i32())
	if r.err == nil && (n < -1 || n > max || n > len(r.b)/unit) {
		r.err = fmt.Errorf("%w: %d %s", errRecord, n, what)
		return 0
	}
	return n
}

// uvarint reads an unsigned varint of at most 32 bits (Kafka's lengths and tags).
func (r *reader) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n > 5 || v > math.MaxUint32 {
		r.err = fmt.Errorf("%w: bad varint", errRecord)
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

// compactLen reads a compact length (length+1; 0 is null, returned as -1), bounded by
// max and by the bytes left for elements of at least unit bytes each.
func (r *reader) compactLen(max, unit int, what string) int {
	n := r.uvarint() - 1
	if r.err == nil && (n > max || n > len(r.b)/unit) {
		r.err = fmt.Errorf("%w: %d %s", errRecord, n, what)
		return 0
	}
	return n
}

// tagCount reads the count of a tagged-field section (each field is two bytes at least).
func (r *reader) tagCount() int {
	n := r.uvarint()
	if r.err == nil && n > len(r.b)/2 {
		r.err = fmt.Errorf("%w: %d tags", errRecord, n)
		return 0
	}
	return n
}

// skipTags reads a tagged-field section and skips every field in it.
func (r *reader) skipTags() {
	for range r.tagCount() {
		r.uvarint()
		r.take(r.uvarint())
	}
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(r.b))
	}
	return r.err
}

// decodeKey reads a record key. known is false for a key version seedlog does not
// write, which a loader skips.
func decodeKey(key []byte) (txnID string, known bool, err error) {
	r := reader{b: key}
	if v := r.i16(); r.err != nil || v != keyVersion {
		return "", false, r.err
	}
	id := r.str(TxnIDBytesMax, "transactional id")
	if err := r.done(); err != nil {
		return "", true, err
	}
	return id, true, nil
}

// decodeValue reads a record value. Every count is bounded before anything is
// allocated for it; partitions come back sorted, duplicates dropped.
func decodeValue(value []byte) (txnRecord, error) {
	r := reader{b: value}
	v := r.i16()
	if r.err == nil && v != valueVersion && v != valueVersionFlex {
		return txnRecord{}, fmt.Errorf("%w: value version %d", errRecord, v)
	}
	flex := v == valueVersionFlex
	rec := txnRecord{pid: r.i64(), epoch: r.i16(), timeoutMs: r.i32(), state: state(r.i8()), prevPid: -1, nextPid: -1}
	if r.err == nil && (rec.state < 0 || rec.state >= stateCount) {
		return txnRecord{}, fmt.Errorf("%w: state %d", errRecord, rec.state)
	}
	// The smallest topic entry is a one-byte name and an empty partition array (with an
	// empty tag section when flexible).
	var topics int
	if flex {
		topics = r.compactLen(PartitionsMax, 3, "topics")
	} else {
		topics = r.count(PartitionsMax, 7, "topics") // -1: null, which Kafka writes for Empty
	}
	for range max(topics, 0) {
		var topic string
		var n int
		if flex {
			l := r.compactLen(TopicBytesMax, 1, "topic bytes")
			topic = string(r.take(max(l, 0)))
			if r.err == nil && l < 0 {
				r.err = fmt.Errorf("%w: null topic name", errRecord)
			}
		} else {
			topic = r.str(TopicBytesMax, "topic")
		}
		if r.err == nil && topic == "" {
			r.err = fmt.Errorf("%w: empty topic name", errRecord)
		}
		if flex {
			n = r.compactLen(PartitionsMax-len(rec.parts), 4, "partitions")
		} else {
			n = r.count(PartitionsMax-len(rec.parts), 4, "partitions")
		}
		if r.err == nil && n < 0 {
			r.err = fmt.Errorf("%w: null partitions", errRecord)
		}
		if r.err != nil {
			break
		}
		rec.parts = slices.Grow(rec.parts, n)
		for range n {
			p := r.i32()
			if r.err == nil && p < 0 {
				r.err = fmt.Errorf("%w: partition %d", errRecord, p)
			}
			rec.parts = append(rec.parts, TopicPartition{topic, p})
		}
		if flex {
			r.skipTags()
		}
	}
	rec.updateMs = r.i64()
	rec.startMs = r.i64()
	if flex {
		r.tags(&rec)
	}
	if err := r.done(); err != nil {
		return txnRecord{}, err
	}
	if rec.parts = sortParts(rec.parts); len(rec.parts) == 0 {
		rec.parts = nil
	}
	return rec, nil
}

func comparePart(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// sortParts sorts parts in place and drops duplicates.
func sortParts(parts []TopicPartition) []TopicPartition {
	slices.SortFunc(parts, comparePart)
	return slices.Compact(parts)
}

// validTxnID: an id Kafka's records can hold.
func validTxnID(id string) bool { return id != "" && len(id) <= TxnIDBytesMax }

// validPart: a partition Kafka's records can hold.
func validPart(p TopicPartition) bool {
	return p.Topic != "" && len(p.Topic) <= TopicBytesMax && p.Partition >= 0
}

// tags reads the record's tagged fields: tags in ascending order, each of the size its
// type has; unknown ones are skipped.
func (r *reader) tags(rec *txnRecord) {
	last := -1
	for range r.tagCount() {
		tag, size := r.uvarint(), r.uvarint()
		if r.err != nil {
			return
		}
		if tag <= last {
			r.err = fmt.Errorf("%w: tag %d after %d", errRecord, tag, last)
			return
		}
		last = tag
		want := map[int]int{0: 8, 1: 8, 2: 2}[tag]
		if want != 0 && size != want {
			r.err = fmt.Errorf("%w: tag %d of %d bytes", errRecord, tag, size)
			return
		}
		switch tag {
		case 0:
			rec.prevPid = r.i64()
		case 1:
			rec.nextPid = r.i64()
		case 2:
			rec.tv = r.i16()
		default:
			r.take(size)
		}
	}
}
