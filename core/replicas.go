package core

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core/compact"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/pace"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicIDFile holds, in each partition log directory, the id of the topic the log belongs
// to, so that a log left by a deleted topic is never mistaken for a new topic of the same
// name.
const topicIDFile = "topic-id"

// replicaHost keeps the broker's partition replicas in step with the metadata image.
type replicaHost struct {
	byLog map[disk.LogID]*hosted
	// sorted holds the replicas of byLog ordered by log id, for deterministic iteration
	// without a map lookup per replica; byPart holds them by topic and partition, for
	// lookups that need not build the log id.
	sorted []*hosted
	byPart map[topicPart]*hosted
	// recovered are the logs found on disk at start, not yet claimed by a replica.
	recovered map[disk.LogID]disk.LogState
	files     map[string][]byte
	// strayChecked is set once the broker, caught up and unfenced, removed the recovered
	// logs of topics that no longer exist.
	strayChecked bool
	// synced is the image the replicas were last brought in line with, and
	// syncedCaughtUp whether the broker was caught up on its metadata then
	// (syncReplicas); syncedOnce is false before the first sync.
	synced         metadata.Image
	syncedOnce     bool
	syncedCaughtUp bool
	// creating counts the replicas whose log creation is under way; waiting holds, in
	// the order found, the replicas that wait for one to end (addReplicaPaced), and
	// waitingSet the same ids.
	creating   int
	waiting    []disk.LogID
	waitingSet map[disk.LogID]bool
	// checked is what CheckReplicas last looked at.
	checked replicaCheckStamp
	// brief is where EachReplica builds each replica's brief: a variable of its own
	// would be allocated at every call, as the callback receives its address.
	brief partition.Brief
	// cleaner paces the compaction steps of every replica of the node; moves what its
	// leaders send the replicas reassignments add.
	cleaner pace.Throttle
	moves   pace.Throttle

	// The work on the replicas (replicawork.go). drains holds the replicas touched since
	// they were last drained; ticks, during tickReplicas, those still to tick; stale
	// those touched since their deadline was last read; timers every replica by the
	// deadline it last gave; restless those that need every tick.
	drains   replicaQueue
	ticks    replicaQueue
	stale    []*hosted
	timers   timerHeap
	restless []*hosted
}

type topicPart struct {
	topic string
	part  int32
}

type hosted struct {
	id      disk.LogID
	r       *partition.Replica
	topic   string
	topicID [16]byte
	part    int32
	// keptNoted: the replica was noted as kept while the broker caught up.
	keptNoted bool
	// given is the state the replica was last updated with.
	given partition.State

	// The host's bookkeeping (replicawork.go). gone: the replica was removed.
	gone bool
	// queued says, by queue kind, that the replica is in replicaHost.drains or ticks.
	queued [queueKinds]bool
	// stale: the replica is in replicaHost.stale.
	stale bool
	// deadline is the replica's Deadline when last read, its key in replicaHost.timers,
	// where it is at index timerAt; restlessAt is its index in replicaHost.restless.
	// Both are -1 outside.
	deadline   int64
	timerAt    int
	restlessAt int
}

func (n *Node) startReplicas(now int64, rec disk.Recovered) {
	h := &n.replicas
	h.byLog = map[disk.LogID]*hosted{}
	h.byPart = map[topicPart]*hosted{}
	h.recovered = map[disk.LogID]disk.LogState{}
	h.files = rec.Files
	h.drains.kind, h.ticks.kind = drainQueue, tickQueue
	for _, l := range rec.Logs {
		if l.ID != disk.MetadataLog {
			h.recovered[l.ID] = l
		}
	}
}

// withReplica runs fn, a call into hr's replica, with hr owning the disk ops it emits.
// Every call that may change a replica, New aside (addReplica), goes through it: it
// touches the replica, whose output is then drained and whose deadline read again.
func (n *Node) withReplica(hr *hosted, fn func()) {
	n.replicas.touch(hr)
	prev := n.queue.SetOwner(hr)
	fn()
	n.queue.SetOwner(prev)
}

// syncReplicas creates, updates and removes replicas to match the image. It visits only
// the partitions the image changed since the last sync (metadata.PartitionChanges), so
// that a metadata change costs work in what it changed rather than in the replicas
// hosted; it visits every one at the first sync, when the cluster-wide configs every
// topic inherits changed, and when the broker's catching up began or ended (replicas
// kept meanwhile are decided then).
func (n *Node) syncReplicas(now int64) {
	h := &n.replicas
	im := n.quorum.image
	h.moves.BytesPerSec = n.moveThrottleRate(im)
	caughtUp := n.broker.epoch >= 0 && !n.broker.fenced
	changed, clusterConfigs := im.PartitionChanges(h.synced)
	var ids []disk.LogID
	if !h.syncedOnce || clusterConfigs || caughtUp != h.syncedCaughtUp {
		ids = make([]disk.LogID, 0, len(h.sorted))
		for _, hr := range h.sorted {
			ids = append(ids, hr.id)
		}
		for _, tp := range im.PartitionsReplicatedOn(n.cfg.NodeID) {
			ids = append(ids, disk.PartitionLog(tp.Topic, tp.Partition))
		}
	} else {
		ids = make([]disk.LogID, 0, len(changed))
		for _, tp := range changed {
			if n.cfg.Plants.On(plant.ReplicaSyncMissesISR) && onlyISRChanged(h.synced, im, tp) {
				continue
			}
			ids = append(ids, disk.PartitionLog(tp.Topic, tp.Partition))
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	h.synced, h.syncedOnce, h.syncedCaughtUp = im, true, caughtUp
	for _, id := range ids {
		hr := h.byLog[id]
		if hr == nil {
			continue
		}
		tp, ok := n.wantedReplica(im, id)
		switch {
		case ok && tp.TopicID == hr.topicID:
		case !ok && !caughtUp:
			// A broker replaying or catching up on its metadata passes through images
			// older than its logs: one may have moved this replica away before a later
			// record moved it back, and the log holds what it copied since. It is
			// deleted only once the broker is caught up and the image still does not
			// want it.
			if !hr.keptNoted {
				hr.keptNoted = true
				n.note("replica-kept-while-catching-up", string(hr.id))
			}
			n.withReplica(hr, func() { hr.r.Park(now) })
		default:
			n.removeReplica(now, hr.id)
		}
	}
	settings := settingsCache{n: n, im: im}
	for _, id := range ids {
		tp, ok := n.wantedReplica(im, id)
		if !ok {
			continue
		}
		hr := h.byLog[id]
		if hr == nil {
			if hr = n.addReplicaPaced(now, id, tp); hr == nil {
				continue
			}
		}
		n.updateReplica(now, hr, settings.state(tp))
	}
	if !h.strayChecked && n.broker.epoch >= 0 && !n.broker.fenced {
		h.strayChecked = true
		for _, id := range sortedLogIDs(h.recovered) {
			n.note("replica-stray", fmt.Sprintf("removing log %s of a topic that no longer exists", id))
			delete(h.recovered, id)
			n.emitNodeOp(disk.Op{Kind: disk.DeleteLog, Log: id}, "deleting stray log "+string(id))
		}
	}
}

// wantedReplica reports whether the image places a replica of log id's partition on
// this broker, and which topic the partition belongs to.
func (n *Node) wantedReplica(im metadata.Image, id disk.LogID) (metadata.TopicPartition, bool) {
	topic, p, ok := disk.ParsePartitionLog(id)
	if !ok {
		return metadata.TopicPartition{}, false
	}
	t, ok := im.Topic(topic)
	if !ok {
		return metadata.TopicPartition{}, false
	}
	if !im.ReplicaOn(t.ID, p, n.cfg.NodeID) {
		return metadata.TopicPartition{}, false
	}
	return metadata.TopicPartition{Topic: topic, TopicID: t.ID, Partition: p}, true
}

// onlyISRChanged reports whether the partition differs between the images in its ISR
// alone (plant.ReplicaSyncMissesISR).
func onlyISRChanged(prev, im metadata.Image, tp metadata.TopicPartition) bool {
	was, ok1 := prev.Partition(tp.TopicID, tp.Partition)
	now, ok2 := im.Partition(tp.TopicID, tp.Partition)
	if !ok1 || !ok2 || slices.Equal(was.ISR, now.ISR) {
		return false
	}
	was.ISR, was.PartitionEpoch = now.ISR, now.PartitionEpoch
	return fmt.Sprint(was) == fmt.Sprint(now)
}

// updateReplica gives hr's replica st, its partition's state.
func (n *Node) updateReplica(now int64, hr *hosted, st partition.State) {
	hr.given = st
	n.withReplica(hr, func() { hr.r.Update(now, st) })
}

// addReplicaPaced adds the replica of log id unless that means creating its log while
// Config.ReplicaCreatesMax creations are under way: it then waits, in the order found,
// for a creation to end (createWaiting), and addReplicaPaced returns nil. Creating a
// log costs several syncs, and the node's disk work runs in order, so creating
// thousands at once would hold the metadata log's syncs, and the quorum with them, for
// seconds.
func (n *Node) addReplicaPaced(now int64, id disk.LogID, tp metadata.TopicPartition) *hosted {
	h := &n.replicas
	_, found := h.recovered[id]
	if (!found || !n.recoveredFor(id, tp)) && h.creating >= n.cfg.ReplicaCreatesMax && !n.cfg.Plants.On(plant.ReplicaCreatesUnpaced) {
		if !h.waitingSet[id] {
			if h.waitingSet == nil {
				h.waitingSet = map[disk.LogID]bool{}
			}
			h.waitingSet[id] = true
			h.waiting = append(h.waiting, id)
		}
		return nil
	}
	return n.addReplica(now, id, tp)
}

// createWaiting adds the replicas waiting for a creation slot, oldest first, while slots
// are free, skipping those the image no longer places here.
func (n *Node) createWaiting(now int64) {
	h := &n.replicas
	settings := settingsCache{n: n, im: h.synced}
	for len(h.waiting) > 0 && h.creating < n.cfg.ReplicaCreatesMax {
		id := h.waiting[0]
		h.waiting[0] = ""
		h.waiting = h.waiting[1:]
		delete(h.waitingSet, id)
		if h.byLog[id] != nil {
			continue
		}
		if tp, ok := n.wantedReplica(h.synced, id); ok {
			n.updateReplica(now, n.addReplica(now, id, tp), settings.state(tp))
		}
	}
	if len(h.waiting) == 0 {
		h.waiting = nil
	}
}

func (n *Node) addReplica(now int64, id disk.LogID, tp metadata.TopicPartition) *hosted {
	h := &n.replicas
	st, found := h.recovered[id]
	if found {
		delete(h.recovered, id)
		if !n.recoveredFor(id, tp) {
			// The log belongs to an older topic of the same name: start afresh.
			n.emitNodeOp(disk.Op{Kind: disk.DeleteLog, Log: id}, "deleting the log of a replaced topic")
			st, found = disk.LogState{}, false
		}
	}
	im := n.quorum.image
	t := n.cfg.Timing
	hr := &hosted{id: id, topic: tp.Topic, topicID: tp.TopicID, part: tp.Partition}
	// New may emit ops already (creating the log), so hr owns them, not the replica.
	prev := n.queue.SetOwner(hr)
	hr.r = partition.New(partition.Config{
		Topic:                    tp.Topic,
		TopicID:                  tp.TopicID,
		Partition:                tp.Partition,
		NodeID:                   n.cfg.NodeID,
		Queue:                    &n.queue,
		Plants:                   n.cfg.Plants,
		FlushAsync:               n.topicFlushAsync(im, tp.Topic),
		ReplicaLagMax:            t.ReplicaLagMax,
		FollowerFetchMaxWait:     t.ReplicaFetchMaxWait,
		FollowerIdleWaitMax:      t.ReplicaFetchIdleMaxWait,
		LeaseValid:               n.LeaseValid,
		MessageBytesMax:          n.cfg.MessageBytesMax,
		FollowerResponseBytesMax: n.cfg.ReplicaFetchResponseBytesMax,
		RetentionCheckInterval:   n.cfg.RetentionCheckInterval,
		CleanerBackoff:           n.cfg.CleanerBackoff,
		CleanerStepBytes:         n.cfg.CleanerStepBytes,
		CleanerThrottle:          &n.replicas.cleaner,
		MoveThrottle:             &n.replicas.moves,
	}, st, h.files, now)
	n.queue.SetOwner(prev)
	if !found {
		// The topic id is written after the log is created: its completion ends the
		// creation (addReplicaPaced).
		h.creating++
		id16 := tp.TopicID
		what := "writing the topic id of " + string(id)
		prev := n.queue.SetOwner(func(d disk.Done) {
			if d.Err != nil {
				n.stop(fmt.Sprintf("%s: %v", what, d.Err))
				return
			}
			h.creating--
			n.createWaiting(n.now)
		})
		n.queue.Emit(disk.Op{Kind: disk.WriteFile, Name: string(id) + "/" + topicIDFile, Data: id16[:]})
		n.queue.SetOwner(prev)
	}
	h.byLog[id] = hr
	h.byPart[topicPart{hr.topic, hr.part}] = hr
	at, _ := slices.BinarySearchFunc(h.sorted, hr, compareHosted)
	h.sorted = slices.Insert(h.sorted, at, hr)
	h.track(hr)
	n.note("replica-added", string(id))
	return hr
}

// recoveredFor reports whether the log id found at start belongs to tp's topic, not to
// an older topic of the same name.
func (n *Node) recoveredFor(id disk.LogID, tp metadata.TopicPartition) bool {
	b, ok := n.replicas.files[string(id)+"/"+topicIDFile]
	return ok && [16]byte(pad16(b)) == tp.TopicID
}

func pad16(b []byte) []byte {
	if len(b) != 16 {
		return make([]byte, 16)
	}
	return b
}

func (n *Node) removeReplica(now int64, id disk.LogID) {
	h := &n.replicas
	hr := h.byLog[id]
	n.withReplica(hr, func() { hr.r.Close() })
	n.drainReplica(now, hr)
	h.forget(hr)
	delete(h.byLog, id)
	delete(h.byPart, topicPart{hr.topic, hr.part})
	h.sorted = slices.DeleteFunc(h.sorted, func(x *hosted) bool { return x.id == id })
	n.emitNodeOp(disk.Op{Kind: disk.DeleteLog, Log: id}, "deleting log "+string(id))
	n.note("replica-removed", string(id))
}

// replicaState is the partition's committed state plus the topic configs a replica
// enforces.
func (n *Node) replicaState(im metadata.Image, tp metadata.TopicPartition) partition.State {
	return n.topicSettings(im, tp.Topic).stateOf(im, tp, n.cfg.Plants)
}

// topicSettings is what a replica's state takes from its topic's configs: the same for
// every partition of the topic but the segment age, which the jitter spreads.
type topicSettings struct {
	st                  partition.State
	segmentMs, jitterMs int64
}

// settingsCache resolves each topic's configs once for the replicas of one pass.
type settingsCache struct {
	n      *Node
	im     metadata.Image
	topics map[string]topicSettings
}

func (c *settingsCache) state(tp metadata.TopicPartition) partition.State {
	ts, ok := c.topics[tp.Topic]
	if !ok {
		if c.topics == nil {
			c.topics = map[string]topicSettings{}
		}
		ts = c.n.topicSettings(c.im, tp.Topic)
		c.topics[tp.Topic] = ts
	}
	return ts.stateOf(c.im, tp, c.n.cfg.Plants)
}

func (n *Node) topicSettings(im metadata.Image, topic string) topicSettings {
	st := partition.State{
		MinISR:          int32(n.topicInt(im, topic, "min.insync.replicas")),
		RetentionMs:     n.topicInt(im, topic, "retention.ms"),
		RetentionBytes:  n.topicInt(im, topic, "retention.bytes"),
		MessageBytesMax: int32(n.topicInt(im, topic, "max.message.bytes")),
		KeepAll:         !n.topicHasPolicy(im, topic, "delete"),
		Compact:         n.topicHasPolicy(im, topic, "compact"),
		LogAppendTime:   n.topicString(im, topic, "message.timestamp.type") == "LogAppendTime",
	}
	st.TimestampBeforeMaxMs = n.topicInt(im, topic, "message.timestamp.before.max.ms")
	st.TimestampAfterMaxMs = n.topicInt(im, topic, "message.timestamp.after.max.ms")
	st.Codec, st.Recompress = record.ParseCodec(n.topicString(im, topic, "compression.type"))
	st.Segments = disk.SegmentLimits{Bytes: n.topicOverride(im, topic, "segment.bytes"), AgeMs: n.topicOverride(im, topic, "segment.ms"),
		IndexBytes: int32(min(n.topicOverride(im, topic, "segment.index.bytes"), math.MaxInt32))}
	if st.Compact {
		st.Compaction = compact.Policy{
			DirtyRatioMin:     n.topicFloat(im, topic, "min.cleanable.dirty.ratio"),
			LagMinMs:          n.topicInt(im, topic, "min.compaction.lag.ms"),
			LagMaxMs:          n.topicInt(im, topic, "max.compaction.lag.ms"),
			DeleteRetentionMs: n.topicInt(im, topic, "delete.retention.ms"),
		}
	}
	ts := topicSettings{st: st}
	if jitter := n.topicInt(im, topic, "segment.jitter.ms"); jitter > 0 {
		ts.segmentMs, ts.jitterMs = n.topicInt(im, topic, "segment.ms"), jitter
	}
	return ts
}

// stateOf is the state of partition tp of the topic.
func (ts topicSettings) stateOf(im metadata.Image, tp metadata.TopicPartition, plants plant.Set) partition.State {
	st := ts.st
	ps, _ := im.Partition(tp.TopicID, tp.Partition)
	st.Replicas, st.ISR, st.Adding, st.Leader = ps.Replicas, ps.ISR, ps.Adding, ps.Leader
	st.LeaderEpoch, st.PartitionEpoch = ps.LeaderEpoch, ps.PartitionEpoch
	if ts.jitterMs > 0 && !plants.On(plant.SegmentJitterIgnored) {
		st.Segments.AgeMs = SegmentAgeMs(tp.Topic, tp.Partition, ts.segmentMs, ts.jitterMs)
	}
	if plants.On(plant.TopicSegmentsIgnored) {
		st.Segments = disk.SegmentLimits{}
	}
	return st
}

// moveThrottleRate is leader.replication.throttled.rate as this broker resolves it (the
// cluster-wide dynamic value, else its static one), 0 for no limit.
func (n *Node) moveThrottleRate(im metadata.Image) int64 {
	chain, _ := im.BrokerConfigChain(metadata.ReplicationThrottleConfig, n.static)
	v, err := strconv.ParseInt(strings.TrimSpace(chain[0].Value), 10, 64)
	if err != nil || v == math.MaxInt64 {
		return 0
	}
	return v
}

// topicOverride resolves an integer topic config set anywhere but the table default, 0
// when only the table's default applies (the storage layer's own setting stands then).
func (n *Node) topicOverride(im metadata.Image, topic, key string) int64 {
	v, src, ok := im.ResolveTopicConfig(topic, key, n.static)
	if !ok || src == metadata.SourceDefault {
		return 0
	}
	x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return max(x, 0)
}

// topicFloat resolves a decimal topic config (0 when it does not parse: every source was
// checked against the table).
func (n *Node) topicFloat(im metadata.Image, topic, key string) float64 {
	v, _ := strconv.ParseFloat(strings.TrimSpace(n.topicString(im, topic, key)), 64)
	return v
}

// topicString resolves a topic config as this broker enforces it: the topic's own
// setting, the cluster-wide one, this broker's static one, the table default (the value
// DescribeConfigs reports).
func (n *Node) topicString(im metadata.Image, topic, key string) string {
	v, _, ok := im.ResolveTopicConfig(topic, key, n.static)
	if !ok {
		panic(fmt.Sprintf("core: topic config %q is not in the table", key))
	}
	return v
}

// topicHasPolicy reports whether the topic's cleanup.policy lists policy: with delete,
// retention and DeleteRecords remove records; with compact, the cleaner runs.
func (n *Node) topicHasPolicy(im metadata.Image, topic, policy string) bool {
	return slices.Contains(metadata.SplitList(n.topicString(im, topic, "cleanup.policy")), policy)
}

// topicInt resolves an integer topic config. Every source was checked against the
// table (the controller checks topic and cluster values, Validate the static ones); a
// value that does not parse anyway falls back to the table default rather than stop
// the broker on metadata it cannot change.
func (n *Node) topicInt(im metadata.Image, topic, key string) int64 {
	x, err := strconv.ParseInt(strings.TrimSpace(n.topicString(im, topic, key)), 10, 64)
	if err != nil {
		d, _ := metadata.TopicConfigDef(key)
		x, _ = strconv.ParseInt(d.Default, 10, 64)
	}
	return x
}

func (n *Node) topicFlushAsync(im metadata.Image, topic string) bool {
	return n.topicString(im, topic, "flush.mode") == "async"
}

func (n *Node) drainReplica(now int64, hr *hosted) {
	if !hr.r.HasReady() {
		return
	}
	rd := hr.r.Ready()
	for _, note := range rd.Notes {
		n.note("replica-"+note.Kind, note.Text)
	}
	if rd.Fatal != nil {
		n.stop(fmt.Sprintf("replica %s-%d: %v", hr.topic, hr.part, rd.Fatal))
		return
	}
	for _, env := range rd.Messages {
		head, records := encodeReplicaHead(env.Msg)
		n.out.Messages = append(n.out.Messages, Message{To: env.To, Payload: head, Records: records})
	}
	if a := rd.AlterISR; a != nil {
		n.alterPartition(hr, *a)
	}
	if n.groups.waiting(hr) || n.txns.waiting(hr) {
		// A leader that waited for the one it replaced to stop now serves
		// (partition.leaderState.awaiting): its coordinator starts here.
		n.syncCoordinators(now)
	}
}

// alterPartition sends a leader's ISR change to the controller and reports the outcome.
func (n *Node) alterPartition(hr *hosted, a partition.AlterRequest) {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.SetVersion(2) // topic ids, no per-member broker epochs
	req.BrokerID, req.BrokerEpoch = n.cfg.NodeID, n.broker.epoch
	t := kmsg.NewAlterPartitionRequestTopic()
	t.TopicID = a.TopicID
	p := kmsg.NewAlterPartitionRequestTopicPartition()
	p.Partition, p.LeaderEpoch, p.PartitionEpoch, p.NewISR = a.Partition, a.LeaderEpoch, a.PartitionEpoch, a.ISR
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	n.rpc.callController(n, req, func(resp kmsg.Response, err error) {
		res := partition.AlterResult{RequestID: a.RequestID, Err: kerr.RequestTimedOut.Code}
		if r, ok := resp.(*kmsg.AlterPartitionResponse); ok && err == nil {
			res = alterResult(a, r)
		}
		if n.replicas.byPart[topicPart{hr.topic, hr.part}] == hr {
			n.withReplica(hr, func() { hr.r.AlterPartitionResult(n.now, res) })
		}
	})
}

func alterResult(a partition.AlterRequest, r *kmsg.AlterPartitionResponse) partition.AlterResult {
	res := partition.AlterResult{RequestID: a.RequestID, Err: r.ErrorCode}
	if r.ErrorCode != 0 {
		return res
	}
	res.Err = kerr.UnknownServerError.Code
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if p.Partition == a.Partition {
				res.Err, res.ISR, res.LeaderEpoch, res.PartitionEpoch = p.ErrorCode, p.ISR, p.LeaderEpoch, p.PartitionEpoch
			}
		}
	}
	return res
}

func (n *Node) leaseChanged() {}

func (n *Node) stepReplicaMessage(from int32, m partition.Message) {
	key := m.PartitionKey()
	hr := n.replicaByKey(key.TopicID, key.Partition)
	if hr == nil {
		// Not (or not yet) a replica here. A follower asking is told so, and asks again
		// shortly: it may have learned of the partition before this node did.
		if ans := partition.UnhostedAnswer(m); ans != nil && !n.cfg.Plants.On(plant.UnhostedFetchDropped) {
			head, records := encodeReplicaHead(ans)
			n.out.Messages = append(n.out.Messages, Message{To: from, Payload: head, Records: records})
		}
		return
	}
	n.withReplica(hr, func() { hr.r.Step(n.now, from, m) })
}

// replicaByKey finds the replica of a partition by topic id.
func (n *Node) replicaByKey(topicID [16]byte, p int32) *hosted {
	t, ok := n.quorum.image.TopicByID(topicID)
	if !ok {
		return nil
	}
	return n.replicas.byPart[topicPart{t.Name, p}]
}

// replica finds the replica of a partition by topic name.
func (n *Node) replica(topic string, p int32) *hosted {
	return n.replicas.byPart[topicPart{topic, p}]
}

// Replicas lists the status of every replica on this broker, sorted by log, for checkers
// and metrics.
func (n *Node) Replicas() []ReplicaStatus {
	out := make([]ReplicaStatus, 0, len(n.replicas.sorted))
	for _, hr := range n.replicas.sorted {
		out = append(out, ReplicaStatus{Topic: hr.topic, TopicID: hr.topicID, Partition: hr.part, Status: hr.r.Status()})
	}
	return out
}

// replicaFences lists the replicas that hold fenced ranges, sorted by log.
func (n *Node) replicaFences() []kafka.ReplicaFences {
	var out []kafka.ReplicaFences
	for _, hr := range n.replicas.sorted {
		if st := hr.r.Status(); len(st.Fences) > 0 {
			out = append(out, kafka.ReplicaFences{Topic: hr.topic, Partition: hr.part, Fences: st.Fences})
		}
	}
	return out
}

// EachReplica calls fn with the brief state of every replica on this broker, sorted by
// log, for checkers that look after every input. The brief is passed by pointer, as it
// is large and fn runs for every replica after every input; it and its slices alias
// state fn must not keep: fn must copy what it keeps.
func (n *Node) EachReplica(fn func(topic string, topicID [16]byte, partition int32, b *partition.Brief)) {
	b := &n.replicas.brief
	for _, hr := range n.replicas.sorted {
		*b = hr.r.Brief()
		fn(hr.topic, hr.topicID, hr.part, b)
	}
	*b = partition.Brief{} // let go of the last replica's state
}

// ReplicaRef is one replica for checkers that read only what changed: two refs are
// equal while they name the same replica object, and Changes tells whether it took an
// input since an earlier read.
type ReplicaRef struct{ r *partition.Replica }

// Changes counts the replica's inputs: while it stays the same, so does Brief.
func (x ReplicaRef) Changes() uint64 { return x.r.Changes() }

// Brief is the replica's brief state (see EachReplica: its slices alias the replica's).
func (x ReplicaRef) Brief() partition.Brief { return x.r.Brief() }

// EachReplicaRef calls fn with every replica on this broker, sorted by log, as
// EachReplica does, without reading the replicas' state.
func (n *Node) EachReplicaRef(fn func(topic string, topicID [16]byte, partition int32, x ReplicaRef)) {
	for _, hr := range n.replicas.sorted {
		fn(hr.topic, hr.topicID, hr.part, ReplicaRef{hr.r})
	}
}

// ReplicaStatus is one replica's status.
type ReplicaStatus struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
	partition.Status
}

func sortedLogIDs[V any](m map[disk.LogID]V) []disk.LogID {
	ids := make([]disk.LogID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// SegmentAgeMs is the age at which a partition's segments roll: segment.ms less the
// partition's share of segment.jitter.ms. Kafka draws a jitter per segment; a fixed one
// per partition spreads the rolls of a topic's partitions as well, and keeps the node
// deterministic.
func SegmentAgeMs(topic string, partition int32, segmentMs, jitterMs int64) int64 {
	if jitterMs <= 0 {
		return segmentMs
	}
	h := xxhash.Sum64String(topic) ^ uint64(partition)*0x9e3779b97f4a7c15
	return max(segmentMs-int64(h%uint64(jitterMs)), 1)
}
