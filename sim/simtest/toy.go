// Package simtest holds a toy node and a toy disk executor for testing the simulator's
// plumbing (clocks, ticks, peers, streams, disk completions, crashes, restarts, fatal
// outputs, checkers) independently of the real node, in sim's tests and in those of the
// packages built on it.
package simtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/storage"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The toy keeps its topics on the smallest broker, persists them with WriteFile before
// answering, and answers reads from there only, so its metadata history is linearizable:
// the checkers must pass it. With AckEarly it answers before the write is durable, a bug
// the checkers must catch.

// Served is a served-versions table for the toy.
type Served map[int16][2]int16

func (s Served) Range(key int16) (int16, int16, bool) {
	r, ok := s[key]
	return r[0], r[1], ok
}

// ToyServed is the toy's table.
var ToyServed = Served{
	3:  {0, 12},
	19: {0, 7},
	20: {0, 6},
	37: {0, 3},
	18: {0, 3},
	60: {0, 1},
}

const toyFile = "toy-topics"

// toyNode is the toy machine.
type toyNode struct {
	cfg     core.Config
	brokers []int32
	// owner is the broker that holds the topics.
	owner  int32
	topics map[string]int32
	queue  disk.Queue
	gate   disk.Gate[core.Response]
	out    core.Output
	next   int64 // next heartbeat, local time
	fatal  bool
	// mutate switches on a deliberate bug: answer before the write is durable.
	ackEarly bool
}

// Machine builds toy nodes for a cluster with these brokers.
func Machine(brokers []int32, ackEarly bool) sim.NewMachine {
	return func(cfg core.Config) (sim.Machine, error) {
		return &toyNode{cfg: cfg, brokers: brokers, owner: brokers[0], topics: map[string]int32{}, ackEarly: ackEarly}, nil
	}
}

func (t *toyNode) Start(now int64, rec disk.Recovered) {
	if data, ok := rec.Files[toyFile]; ok {
		topics, err := decodeTopics(data)
		if err != nil {
			t.stop("recovered file is corrupt: " + err.Error())
			return
		}
		t.topics = topics
	}
	t.out.Notes = append(t.out.Notes, core.Note{Kind: "started", Text: fmt.Sprintf("%d topics", len(t.topics))})
	t.next = now
}

func (t *toyNode) stop(reason string) {
	t.fatal = true
	t.out.Fatal = &core.FatalError{Node: t.cfg.NodeID, Reason: reason}
}

func (t *toyNode) Tick(now int64) {
	if t.fatal || now < t.next {
		return
	}
	for _, v := range t.cfg.Voters {
		if v != t.cfg.NodeID {
			t.out.Messages = append(t.out.Messages, core.Message{To: v, Payload: binary.BigEndian.AppendUint64(nil, uint64(now))})
		}
	}
	t.next = now + int64(100*time.Millisecond)
}

func (t *toyNode) Deadline() int64 {
	if t.fatal {
		return core.NoDeadline
	}
	return t.next
}

// Shutdown does nothing: the toy leads nothing that could move away.
func (t *toyNode) Shutdown() {}

// ShutdownReady is always true: the toy may stop at once.
func (t *toyNode) ShutdownReady() bool { return true }

func (t *toyNode) Peer(now int64, from int32, payload []byte) {
	if len(payload) != 8 {
		t.stop("bad peer payload")
	}
}

func (t *toyNode) ConnClosed(int64, core.ConnID) {}

func (t *toyNode) Done(now int64, d disk.Done) {
	if t.fatal {
		return
	}
	if d.Err != nil {
		t.stop("disk: " + d.Err.Error())
		return
	}
	t.out.Responses = t.gate.Release(d.ID, t.out.Responses)
}

func (t *toyNode) Drain() core.Output {
	out := t.out
	out.Ops = t.queue.Drain()
	t.out = core.Output{}
	if out.Fatal != nil {
		out.Ops, out.Responses, out.Messages = nil, nil, nil
	}
	return out
}

func (t *toyNode) respond(req core.Request, resp kmsg.Response) {
	resp.SetVersion(req.Version)
	t.out.Responses = append(t.out.Responses, core.Response{Conn: req.Conn, Corr: req.Corr, Msg: resp})
}

// respondAfter answers once the op that persisted the change completed. Earlier answers
// on the same connection stay ahead because every answer of the owner is gated on the
// latest op.
func (t *toyNode) respondAfter(req core.Request, resp kmsg.Response) {
	resp.SetVersion(req.Version)
	r := core.Response{Conn: req.Conn, Corr: req.Corr, Msg: resp}
	if t.ackEarly {
		t.out.Responses = append(t.out.Responses, r)
		return
	}
	t.gate.Hold(t.queue.Last(), r)
}

func (t *toyNode) persist() {
	t.queue.Emit(disk.Op{Kind: disk.WriteFile, Name: toyFile, Data: encodeTopics(t.topics)})
}

func (t *toyNode) Request(now int64, req core.Request) {
	if t.fatal {
		return
	}
	isOwner := t.cfg.NodeID == t.owner
	if req.Msg == nil {
		if req.Key != 18 {
			t.out.Close = append(t.out.Close, req.Conn)
			return
		}
		// KIP-511: answer a too-new ApiVersions at version 0 with the served range.
		req.Version = 0
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.ErrorCode = 35
		for _, key := range sortedKeys(ToyServed) {
			v := ToyServed[key]
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MinVersion: v[0], MaxVersion: v[1]})
		}
		t.respondOrdered(req, resp)
		return
	}
	switch r := req.Msg.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := kmsg.NewPtrApiVersionsResponse()
		for _, key := range sortedKeys(ToyServed) {
			v := ToyServed[key]
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MinVersion: v[0], MaxVersion: v[1]})
		}
		t.respond(req, resp)
	case *kmsg.MetadataRequest:
		t.respondOrdered(req, t.metadata(r, isOwner))
	case *kmsg.CreateTopicsRequest:
		resp := kmsg.NewPtrCreateTopicsResponse()
		for _, rt := range r.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			switch _, exists := t.topics[rt.Topic]; {
			case !isOwner:
				st.ErrorCode = errNotController
			case exists:
				st.ErrorCode = errTopicAlreadyExists
			case int(rt.ReplicationFactor) > len(t.brokers):
				st.ErrorCode = errInvalidReplicationFactor
			default:
				t.topics[rt.Topic] = rt.NumPartitions
			}
			resp.Topics = append(resp.Topics, st)
		}
		t.mutated(req, resp, isOwner)
	case *kmsg.DeleteTopicsRequest:
		resp := kmsg.NewPtrDeleteTopicsResponse()
		names := r.TopicNames
		if req.Version >= 6 {
			names = nil
			for _, rt := range r.Topics {
				names = append(names, *rt.Topic)
			}
		}
		for _, name := range names {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic = kmsg.StringPtr(name)
			switch _, exists := t.topics[name]; {
			case !isOwner:
				st.ErrorCode = errNotController
			case !exists:
				st.ErrorCode = errUnknownTopicOrPartition
			default:
				delete(t.topics, name)
			}
			resp.Topics = append(resp.Topics, st)
		}
		t.mutated(req, resp, isOwner)
	case *kmsg.CreatePartitionsRequest:
		resp := kmsg.NewPtrCreatePartitionsResponse()
		for _, rt := range r.Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic = rt.Topic
			switch n, exists := t.topics[rt.Topic]; {
			case !isOwner:
				st.ErrorCode = errNotController
			case !exists:
				st.ErrorCode = errUnknownTopicOrPartition
			case rt.Count <= n:
				st.ErrorCode = errInvalidPartitions
			default:
				t.topics[rt.Topic] = rt.Count
			}
			resp.Topics = append(resp.Topics, st)
		}
		t.mutated(req, resp, isOwner)
	default:
		t.stop(fmt.Sprintf("toy does not serve %s", kmsg.NameForKey(req.Msg.Key())))
	}
}

// respondOrdered keeps answers in request order behind any gated answer.
func (t *toyNode) respondOrdered(req core.Request, resp kmsg.Response) {
	if t.gate.Len() > 0 {
		resp.SetVersion(req.Version)
		t.gate.Hold(t.queue.Last(), core.Response{Conn: req.Conn, Corr: req.Corr, Msg: resp})
		return
	}
	t.respond(req, resp)
}

func (t *toyNode) mutated(req core.Request, resp kmsg.Response, isOwner bool) {
	if !isOwner {
		t.respondOrdered(req, resp)
		return
	}
	t.persist()
	t.respondAfter(req, resp)
}

func (t *toyNode) metadata(r *kmsg.MetadataRequest, isOwner bool) kmsg.Response {
	resp := kmsg.NewPtrMetadataResponse()
	for _, b := range t.brokers {
		resp.Brokers = append(resp.Brokers, kmsg.MetadataResponseBroker{NodeID: b, Host: fmt.Sprintf("node-%d", b), Port: 9092})
	}
	resp.ControllerID = t.owner
	for _, rt := range r.Topics {
		st := kmsg.NewMetadataResponseTopic()
		st.Topic = rt.Topic
		n, exists := t.topics[*rt.Topic]
		switch {
		case !isOwner:
			st.ErrorCode = errLeaderNotAvailable
		case !exists:
			st.ErrorCode = errUnknownTopicOrPartition
		default:
			for p := range n {
				sp := kmsg.NewMetadataResponseTopicPartition()
				sp.Partition = p
				sp.Leader = t.owner
				st.Partitions = append(st.Partitions, sp)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func encodeTopics(topics map[string]int32) []byte {
	var b []byte
	for _, name := range sortedKeys(topics) {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.BigEndian.AppendUint32(b, uint32(topics[name]))
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func decodeTopics(b []byte) (map[string]int32, error) {
	if len(b) < 4 || crc32.ChecksumIEEE(b[:len(b)-4]) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, errors.New("checksum mismatch")
	}
	b = b[:len(b)-4]
	out := map[string]int32{}
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n+4 {
			return nil, errors.New("truncated")
		}
		name := string(b[k : k+int(n)])
		out[name] = int32(binary.BigEndian.Uint32(b[k+int(n):]))
		b = b[k+int(n)+4:]
	}
	return out, nil
}

// toyExec carries out WriteFile atomically on the FS and completes everything else at
// once.
type toyExec struct{ fsys storage.FS }

// Open is the toy's disk executor.
func Open(fsys storage.FS, _ storage.LogConfig) (sim.Executor, disk.Recovered, error) {
	rec := disk.Recovered{Files: map[string][]byte{}}
	data, err := storage.ReadFile(fsys, toyFile)
	switch {
	case err == nil:
		rec.Files[toyFile] = data
	case !errors.Is(err, fs.ErrNotExist):
		return nil, rec, err
	}
	return &toyExec{fsys: fsys}, rec, nil
}

func (x *toyExec) DoAll(ops []disk.Op) []disk.Done {
	dones := make([]disk.Done, len(ops))
	for i, op := range ops {
		d := disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log}
		if op.Kind == disk.WriteFile {
			d.Err = storage.WriteFileAtomic(x.fsys, op.Name, op.Data)
		}
		dones[i] = d
	}
	return dones
}

func (x *toyExec) Close() error { return nil }

// Options runs the toy on a seed. The toy has one copy of its state, so corruption
// (which the budget allows on a minority of voters) would lose data it cannot refetch:
// it stays off. It serves no partitions, so the data workload is off too.
func Options(seed uint64, ackEarly bool) sim.Options {
	return sim.Options{
		Seed:     seed,
		OpenDisk: Open,
		Served:   ToyServed,
		Adjust: func(c *sim.Config) {
			c.Faults.ReadCorrupt, c.Faults.AtRestCorrupt, c.Faults.PartitionCorrupt = false, false, false
			c.Data = sim.DataConfig{} // the toy serves no partitions
			c.Faults.LivenessDown = 0 // the toy's topics live on one broker
		},
		MachineFor: func(c *sim.Config) sim.NewMachine { return Machine(slices.Clone(c.Brokers()), ackEarly) },
	}
}

// Kafka codes the toy answers with.
const (
	errUnknownTopicOrPartition  int16 = 3
	errLeaderNotAvailable       int16 = 5
	errTopicAlreadyExists       int16 = 36
	errInvalidPartitions        int16 = 37
	errInvalidReplicationFactor int16 = 38
	errNotController            int16 = 41
)

func sortedKeys[K int16 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
