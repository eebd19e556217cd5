package partition

import (
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
)

// Key names the partition a peer message belongs to, so the node can route it.
type Key struct {
	TopicID   [16]byte
	Partition int32
}

// MsgKind tags a peer message on the wire.
type MsgKind uint8

// The peer messages between replicas of one partition.
const (
	KindFetch       MsgKind = 1 // follower -> leader
	KindFetchAnswer MsgKind = 2 // leader -> follower
	KindEpochQuery  MsgKind = 3 // follower -> leader: OffsetForLeaderEpoch
	KindEpochAnswer MsgKind = 4 // leader -> follower
	KindSynced      MsgKind = 5 // follower -> leader, unanswered
)

func (k MsgKind) String() string {
	switch k {
	case KindFetch:
		return "fetch"
	case KindFetchAnswer:
		return "fetch-answer"
	case KindEpochQuery:
		return "epoch-query"
	case KindEpochAnswer:
		return "epoch-answer"
	case KindSynced:
		return "synced"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Message is a peer message. The concrete types are *Fetch, *FetchAnswer, *EpochQuery,
// *EpochAnswer and *Synced.
type Message interface {
	Kind() MsgKind
	PartitionKey() Key
	appendTo(w *enc.Writer)
}

// Fetch is a follower's fetch request.
type Fetch struct {
	Key                Key
	RequestID          uint64
	ReplicaID          int32
	CurrentLeaderEpoch int32
	// FetchOffset is the follower's log end offset: everything below it is appended.
	FetchOffset int64
	// DurableOffset is what the follower's completed syncs cover (its log end after an
	// append in FlushAsync mode); the leader's high watermark counts only this.
	DurableOffset int64
	// LastFetchedEpoch is the epoch of the follower's last batch, -1 for an empty log;
	// the leader checks it against its own epochs (divergence, KIP-595).
	LastFetchedEpoch int32
	LogStartOffset   int64
	MaxBytes         int32
	MaxWaitMs        int32
	// Damaged is set while the follower's log holds a range whose synced bytes failed
	// validation on its disk and that it has not fetched back (DamagedFrom is its
	// start): the leader takes it out of the ISR at once and never back until it is
	// repaired, whatever its offsets say.
	Damaged     bool
	DamagedFrom int64
}

// FetchAnswer is the leader's answer to a Fetch.
type FetchAnswer struct {
	Key       Key
	RequestID uint64
	// FetchOffset echoes the request's.
	FetchOffset    int64
	Err            int16
	LeaderEpoch    int32
	HighWatermark  int64
	LogStartOffset int64
	LogEndOffset   int64
	// Diverging is set when the follower's log diverges from the leader's: DivergingEpoch
	// is the largest epoch not above the follower's last fetched epoch that the leader
	// has, and DivergingEndOffset where it ends in the leader's log.
	Diverging          bool
	DivergingEpoch     int32
	DivergingEndOffset int64
	// Records are whole batches starting at FetchOffset.
	Records []byte
	// InISR tells the follower whether the leader counts it in the ISR (the maximal
	// one): a damaged follower cuts its log back to repair it only once it is out.
	InISR bool
	// GapEnd, when above FetchOffset, says that the leader's log has no batches from
	// FetchOffset up to GapEnd: the partition declared them lost (no in-sync copy of
	// them was left intact). The follower fences the same range and fetches on from
	// GapEnd. GapEpochs are the leader's epoch cache entries starting in the gap.
	GapEnd    int64
	GapEpochs []disk.EpochEntry
	// OpenBelow comes with OFFSET_OUT_OF_RANGE for a fetch below the leader's log
	// start: the transactions open at that start that began below it. A follower that
	// starts its log over there has none of their batches left to learn them from.
	OpenBelow []OpenTxn
}

// OpenTxn is a producer's transaction begun at FirstOffset and open.
type OpenTxn struct {
	ProducerID    int64
	ProducerEpoch int16
	FirstOffset   int64
}

// EpochQuery asks the leader where an epoch ends in its log (OffsetForLeaderEpoch).
type EpochQuery struct {
	Key                Key
	RequestID          uint64
	ReplicaID          int32
	CurrentLeaderEpoch int32
	LeaderEpoch        int32
}

// EpochAnswer answers an EpochQuery.
type EpochAnswer struct {
	Key       Key
	RequestID uint64
	Err       int16
	// RequestedEpoch echoes the query's LeaderEpoch.
	RequestedEpoch int32
	LeaderEpoch    int32
	EndOffset      int64
	LogStartOffset int64
	// OpenBelow is as in FetchAnswer, sent when EndOffset is at or below LogStartOffset.
	OpenBelow []OpenTxn
}

// Synced tells the leader that a sync completed on the follower after its fetch
// RequestID was sent: the follower sends its next fetch once an append is written, and
// the sync that makes it durable completes while that fetch waits at the leader. The
// leader counts DurableOffset only if RequestID is the follower's last fetch it took,
// and no further than that fetch's offset.
type Synced struct {
	Key                Key
	RequestID          uint64
	ReplicaID          int32
	CurrentLeaderEpoch int32
	DurableOffset      int64
}

// UnhostedAnswer is what a node that holds no replica of m's partition answers to a
// follower's request: UNKNOWN_TOPIC_OR_PARTITION. A follower whose node applied the
// partition's creation (or its leadership) before the leader's node did would otherwise
// hear nothing and ask again only after its request timeout; told so, it asks again in
// moments. It is nil for messages that want no answer.
func UnhostedAnswer(m Message) Message {
	switch m := m.(type) {
	case *Fetch:
		return &FetchAnswer{Key: m.Key, RequestID: m.RequestID, FetchOffset: m.FetchOffset, Err: CodeUnknownTopicOrPartition,
			LeaderEpoch: -1, HighWatermark: -1, LogStartOffset: -1, LogEndOffset: -1}
	case *EpochQuery:
		return &EpochAnswer{Key: m.Key, RequestID: m.RequestID, Err: CodeUnknownTopicOrPartition, RequestedEpoch: m.LeaderEpoch,
			LeaderEpoch: -1, EndOffset: -1, LogStartOffset: -1}
	}
	return nil
}

func (*Fetch) Kind() MsgKind       { return KindFetch }
func (*FetchAnswer) Kind() MsgKind { return KindFetchAnswer }
func (*EpochQuery) Kind() MsgKind  { return KindEpochQuery }
func (*EpochAnswer) Kind() MsgKind { return KindEpochAnswer }
func (*Synced) Kind() MsgKind      { return KindSynced }

func (m *Fetch) PartitionKey() Key       { return m.Key }
func (m *FetchAnswer) PartitionKey() Key { return m.Key }
func (m *EpochQuery) PartitionKey() Key  { return m.Key }
func (m *EpochAnswer) PartitionKey() Key { return m.Key }
func (m *Synced) PartitionKey() Key      { return m.Key }

func (k Key) appendTo(w *enc.Writer) {
	w.B = append(w.B, k.TopicID[:]...)
	w.I32(k.Partition)
}

func readKey(r *enc.Reader) Key {
	var k Key
	for i := range k.TopicID {
		k.TopicID[i] = r.U8()
	}
	k.Partition = r.I32()
	return k
}

func (m *Fetch) appendTo(w *enc.Writer) {
	m.Key.appendTo(w)
	w.U64(m.RequestID)
	w.I32(m.ReplicaID)
	w.I32(m.CurrentLeaderEpoch)
	w.I64(m.FetchOffset)
	w.I64(m.DurableOffset)
	w.I32(m.LastFetchedEpoch)
	w.I64(m.LogStartOffset)
	w.I32(m.MaxBytes)
	w.I32(m.MaxWaitMs)
	w.Bool(m.Damaged)
	w.I64(m.DamagedFrom)
}

// appendTo writes the records last, so that a sender may send them from where they are
// (EncodeHead).
func (m *FetchAnswer) appendTo(w *enc.Writer) {
	m.appendHead(w)
	w.B = append(w.B, m.Records...)
}

// appendHead writes every field and the records' length, not the records.
func (m *FetchAnswer) appendHead(w *enc.Writer) {
	m.Key.appendTo(w)
	w.U64(m.RequestID)
	w.I64(m.FetchOffset)
	w.I16(m.Err)
	w.I32(m.LeaderEpoch)
	w.I64(m.HighWatermark)
	w.I64(m.LogStartOffset)
	w.I64(m.LogEndOffset)
	w.Bool(m.Diverging)
	w.I32(m.DivergingEpoch)
	w.I64(m.DivergingEndOffset)
	w.Bool(m.InISR)
	w.I64(m.GapEnd)
	w.Len(len(m.GapEpochs))
	for _, e := range m.GapEpochs {
		w.I32(e.Epoch)
		w.I64(e.StartOffset)
	}
	appendOpenTxns(w, m.OpenBelow)
	w.Len(len(m.Records))
}

// readEpochs reads a list of epoch entries; its length is bounded by the input.
func readEpochs(r *enc.Reader) []disk.EpochEntry {
	n := r.Len(12)
	if n == 0 {
		return nil
	}
	out := make([]disk.EpochEntry, n)
	for i := range out {
		out[i] = disk.EpochEntry{Epoch: r.I32(), StartOffset: r.I64()}
	}
	return out
}

func appendOpenTxns(w *enc.Writer, ts []OpenTxn) {
	w.Len(len(ts))
	for _, t := range ts {
		w.I64(t.ProducerID)
		w.I16(t.ProducerEpoch)
		w.I64(t.FirstOffset)
	}
}

// readOpenTxns reads a list of open transactions; its length is bounded by the input.
func readOpenTxns(r *enc.Reader) []OpenTxn {
	n := r.Len(18)
	if n == 0 {
		return nil
	}
	out := make([]OpenTxn, n)
	for i := range out {
		out[i] = OpenTxn{ProducerID: r.I64(), ProducerEpoch: r.I16(), FirstOffset: r.I64()}
	}
	return out
}

func (m *EpochQuery) appendTo(w *enc.Writer) {
	m.Key.appendTo(w)
	w.U64(m.RequestID)
	w.I32(m.ReplicaID)
	w.I32(m.CurrentLeaderEpoch)
	w.I32(m.LeaderEpoch)
}

func (m *EpochAnswer) appendTo(w *enc.Writer) {
	m.Key.appendTo(w)
	w.U64(m.RequestID)
	w.I16(m.Err)
	w.I32(m.RequestedEpoch)
	w.I32(m.LeaderEpoch)
	w.I64(m.EndOffset)
	w.I64(m.LogStartOffset)
	appendOpenTxns(w, m.OpenBelow)
}

func (m *Synced) appendTo(w *enc.Writer) {
	m.Key.appendTo(w)
	w.U64(m.RequestID)
	w.I32(m.ReplicaID)
	w.I32(m.CurrentLeaderEpoch)
	w.I64(m.DurableOffset)
}

// EncodeMessage appends m, a kind byte followed by its fields, to w.
func EncodeMessage(w *enc.Writer, m Message) {
	w.U8(uint8(m.Kind()))
	m.appendTo(w)
}

// EncodeHead appends m to w as EncodeMessage does, except for a FetchAnswer's records,
// which it returns instead: m's encoding is what it appended followed by them. A sender
// sends the records from where they are, without copying them into the message.
func EncodeHead(w *enc.Writer, m Message) (records []byte) {
	a, ok := m.(*FetchAnswer)
	if !ok {
		EncodeMessage(w, m)
		return nil
	}
	w.U8(uint8(KindFetchAnswer))
	a.appendHead(w)
	return a.Records
}

// Encode returns m encoded on its own.
func Encode(m Message) []byte {
	var w enc.Writer
	EncodeMessage(&w, m)
	return w.B
}

// DecodeMessage reads one message from r. It never panics; on bad input it returns an
// error and r's error is set. Records alias r's bytes.
func DecodeMessage(r *enc.Reader) (Message, error) {
	var m Message
	switch k := MsgKind(r.U8()); k {
	case KindFetch:
		m = &Fetch{Key: readKey(r), RequestID: r.U64(), ReplicaID: r.I32(),
			CurrentLeaderEpoch: r.I32(), FetchOffset: r.I64(), DurableOffset: r.I64(),
			LastFetchedEpoch: r.I32(), LogStartOffset: r.I64(), MaxBytes: r.I32(), MaxWaitMs: r.I32(),
			Damaged: r.Bool(), DamagedFrom: r.I64()}
	case KindFetchAnswer:
		m = &FetchAnswer{Key: readKey(r), RequestID: r.U64(), FetchOffset: r.I64(), Err: r.I16(),
			LeaderEpoch: r.I32(), HighWatermark: r.I64(), LogStartOffset: r.I64(), LogEndOffset: r.I64(),
			Diverging: r.Bool(), DivergingEpoch: r.I32(), DivergingEndOffset: r.I64(),
			InISR: r.Bool(), GapEnd: r.I64(), GapEpochs: readEpochs(r), OpenBelow: readOpenTxns(r), Records: r.Bytes()}
	case KindEpochQuery:
		m = &EpochQuery{Key: readKey(r), RequestID: r.U64(), ReplicaID: r.I32(),
			CurrentLeaderEpoch: r.I32(), LeaderEpoch: r.I32()}
	case KindEpochAnswer:
		m = &EpochAnswer{Key: readKey(r), RequestID: r.U64(), Err: r.I16(), RequestedEpoch: r.I32(),
			LeaderEpoch: r.I32(), EndOffset: r.I64(), LogStartOffset: r.I64(), OpenBelow: readOpenTxns(r)}
	case KindSynced:
		m = &Synced{Key: readKey(r), RequestID: r.U64(), ReplicaID: r.I32(), CurrentLeaderEpoch: r.I32(),
			DurableOffset: r.I64()}
	default:
		if r.Err() == nil {
			r.Fail(fmt.Errorf("%w: partition message kind %d", enc.ErrBad, uint8(k)))
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("partition: decode message: %w", err)
	}
	return m, nil
}

// Decode decodes a message that fills b exactly.
func Decode(b []byte) (Message, error) {
	r := enc.Reader{B: b}
	m, err := DecodeMessage(&r)
	if err != nil {
		return nil, err
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("partition: decode %s: %w", m.Kind(), err)
	}
	return m, nil
}
