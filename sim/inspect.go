package sim

import "github.com/seedlog/seedlog/core/disk"

// QuorumStatus is what the checkers read of a node's controller quorum state. It mirrors
// the quorum's own status so that the checkers do not depend on its package.
type QuorumStatus struct {
	// Leader is true when the node leads the quorum in ActingEpoch.
	Leader bool
	Role   string
	// Epoch is the durable epoch (it never decreases, across restarts too);
	// ActingEpoch the epoch the node acts in, ahead of Epoch until its quorum state is
	// written.
	Epoch       int32
	ActingEpoch int32
	LeaderID    int32 // leader of ActingEpoch, -1 when unknown
	VotedFor    int32 // -1 when none
	// HW is the high watermark the node exposes (durable on it); EndOffset its log end;
	// StartOffset the first offset it still holds.
	HW          int64
	EndOffset   int64
	StartOffset int64
	// DurableOffset: everything below it is synced. LastEpoch is the epoch of the last
	// entry held (in memory).
	DurableOffset int64
	LastEpoch     int32
	// Recovering: the node lost acknowledged entries, its snapshot or its quorum state to
	// disk corruption and takes no part in elections until it caught up from a leader.
	// QuorumStateLost: it also started without its epoch and vote, so its epoch and HW
	// start over from its log. SnapshotLost: it started with a snapshot that did not
	// decode, so its HW starts over from its quorum state.
	Recovering      bool
	QuorumStateLost bool
	SnapshotLost    bool
}

// QuorumEntry is one record of the metadata log.
type QuorumEntry struct {
	Offset int64
	Epoch  int32
	Data   []byte
}

// Inspect adapts a machine's inspection methods for the checkers. A nil function means
// the machine offers nothing of that kind, and the checkers that need it stay off.
type Inspect struct {
	// Quorum returns the node's quorum status; false when the node has none (yet).
	Quorum func(m Machine) (QuorumStatus, bool)
	// Entries returns the entries the node holds in [from, to), in order.
	Entries func(m Machine, from, to int64) []QuorumEntry
	// Metadata returns the node's metadata image, summarized.
	Metadata func(m Machine) (MetadataView, bool)
	// Replicas appends the node's partition replicas to dst[:0] and returns it. It may
	// reuse the ISR and Epochs slices of the elements of dst it overwrites.
	Replicas func(m Machine, dst []ReplicaView) []ReplicaView
	// ReplicaViews, when set, is Replicas without copies: the views' ISR and Epochs
	// alias the machine's state, valid only until its next input and never to be
	// modified. The checker that runs after every step uses it to copy only the
	// replicas that changed.
	ReplicaViews func(m Machine, dst []ReplicaView) []ReplicaView
	// ReplicaStamps, when set with ReplicaViews and StampView, appends to dst[:0] a
	// stamp of each replica, in the order of ReplicaViews, without reading its state;
	// false when the machine has none. While a replica's stamp stays the same, so does
	// its view: the checker that runs after every step reads (StampView) only the
	// replicas whose stamp moved.
	ReplicaStamps func(m Machine, dst []ReplicaStamp) ([]ReplicaStamp, bool)
	// StampView makes v the view of the replica s names, as ReplicaViews would.
	StampView func(s *ReplicaStamp, v *ReplicaView)
	// VerifyStamps makes that checker read every replica all the same and fail the run
	// when one whose stamp stayed differs from its view (tests of ReplicaStamps).
	VerifyStamps bool
	// LeaseValid reports whether the node's controller lease lets it lead at local time
	// now.
	LeaseValid func(m Machine, now int64) bool
	// Groups returns the state of every group coordinator the node runs.
	Groups func(m Machine) []CoordinatorView
	// ImageOffset is the last record applied to the node's metadata image; ImageCheck
	// checks the image for the partition invariants (ISR within replicas, leader within
	// ISR).
	ImageOffset func(m Machine) int64
	ImageCheck  func(m Machine) error
	// FencedBrokers appends to dst[:0] the brokers fenced (or not registered, of ids)
	// in the node's metadata image.
	FencedBrokers func(m Machine, ids, dst []int32) []int32
	// Controller calls fn with every broker as the node's controller sees it and reports
	// whether that controller is active (false, without calls, on a node that runs
	// none). ids is scratch space, returned for reuse.
	Controller func(m Machine, ids []int32, fn func(ControllerBroker)) (bool, []int32)
}

// ControllerBroker is one broker as a controller sees it: its registration epoch,
// whether it is fenced or in controlled shutdown, and when the controller last heard
// from it (on the controller's clock, while active).
type ControllerBroker struct {
	ID            int32
	Epoch         int64
	Fenced        bool
	ShuttingDown  bool
	LastHeartbeat int64
}

// ReplicaView is what the checkers read of one partition replica.
type ReplicaView struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
	Leader    bool
	Follower  bool
	// LeaderEpoch is the epoch the replica acts in.
	LeaderEpoch int32
	// HW, LEO, Durable and Start are the high watermark, log end, durable offset (all
	// below it is synced, or in async mode written) and log start.
	HW, LEO, Durable, Start int64
	// ISR is the committed ISR the replica knows, of partition epoch PartitionEpoch.
	ISR            []int32
	PartitionEpoch int32
	// Epochs is the leader-epoch cache: epoch and first offset, ascending.
	Epochs    []disk.EpochEntry
	ReadReady bool
	Loading   bool
	Closed    bool
	// Resigning: it leads in metadata but gave the leadership up (damaged data while
	// another in-sync replica exists) and serves nothing; Leader is false then.
	Resigning bool
	// Fences are the log's fenced ranges (damaged on this disk, or declared lost).
	Fences []disk.Fence
	// Repairs counts truncations that cut damaged data to fetch it back.
	Repairs int
	// MinISR is the min.insync.replicas the replica applies.
	MinISR int32
	// stamp is the replica's stamp when the view was read (zero when not known).
	stamp stamp
}

// ReplicaStamp names a replica and a count of its inputs (Inspect.ReplicaStamps).
type ReplicaStamp struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
	// Ref is the replica object: comparable, and never equal to another replica's.
	Ref any
	// Changes counts the replica's inputs, or anything else that moves when its view may.
	Changes uint64
}

type stamp struct {
	ref     any
	changes uint64
}

func (s *ReplicaStamp) stamp() stamp { return stamp{s.Ref, s.Changes} }

// CoordinatorView is one group coordinator.
type CoordinatorView struct {
	Partition int32
	Serving   bool
	Groups    []GroupView
}

// GroupView is one group as its coordinator sees it.
type GroupView struct {
	ID         string
	State      string
	Generation int32
	// Members and what each was handed for the generation (nil: nothing yet).
	Members []GroupMemberView
}

// GroupMemberView is one member of a group.
type GroupMemberView struct {
	ID         string
	InstanceID string
	Assignment []byte
}

// MetadataView summarizes a node's metadata image for checkers and scenarios.
type MetadataView struct {
	Offset  int64 // last applied record, -1 for none
	Brokers []BrokerView
	Topics  []TopicView
}

// BrokerView is one registered broker.
type BrokerView struct {
	ID     int32
	Epoch  int64
	Fenced bool
}

// TopicView is one topic and the leader (-1 for none), ISR, replicas, leader epoch and
// partition epoch of each partition.
type TopicView struct {
	Name            string
	ID              [16]byte
	Leaders         []int32
	ISRs            [][]int32
	Replicas        [][]int32
	LeaderEpochs    []int32
	PartitionEpochs []int32
	// Moving marks the partitions a reassignment moves.
	Moving []bool
}

// View is the read-only view of the world invariants get. Invariants may call only the
// machines' inspection methods.
type View struct{ w *World }

// Now is the virtual time.
func (v View) Now() int64 { return v.w.now }

// Config is the run's configuration.
func (v View) Config() *Config { return &v.w.cfg }

// Up reports whether node id is running (crashed nodes are not; paused ones are).
func (v View) Up(id int32) bool {
	n := v.w.node(id)
	return n != nil && n.up
}

// Incarnation is node id's incarnation number.
func (v View) Incarnation(id int32) uint32 { return v.w.node(id).inc }

// Machine returns node id's machine, nil when the node is down.
func (v View) Machine(id int32) Machine {
	n := v.w.node(id)
	if n == nil || !n.up {
		return nil
	}
	return n.m
}

// Notes returns how many notes of each kind node id emitted so far, over all its
// incarnations.
func (v View) Notes(id int32) Coverage {
	n := v.w.node(id)
	if n == nil {
		return nil
	}
	return n.notes
}

// Quorum returns node id's quorum status, when the node is up and exposes one.
func (v View) Quorum(id int32) (QuorumStatus, bool) {
	m := v.Machine(id)
	if m == nil || v.w.opts.Inspect.Quorum == nil {
		return QuorumStatus{}, false
	}
	return v.w.opts.Inspect.Quorum(m)
}

// Metadata returns node id's metadata image, when the node is up and exposes one.
func (v View) Metadata(id int32) (MetadataView, bool) {
	m := v.Machine(id)
	if m == nil || v.w.opts.Inspect.Metadata == nil {
		return MetadataView{}, false
	}
	return v.w.opts.Inspect.Metadata(m)
}

// Replicas returns node id's partition replicas, when the node is up and exposes them.
func (v View) Replicas(id int32) []ReplicaView {
	m := v.Machine(id)
	if m == nil || v.w.opts.Inspect.Replicas == nil {
		return nil
	}
	return v.w.opts.Inspect.Replicas(m, nil)
}

// QuorumLeader returns the leader of the highest epoch any up voter acts in, if an up
// node leads it.
func (v View) QuorumLeader() (int32, bool) {
	var best QuorumStatus
	bestID, found := int32(-1), false
	for _, id := range v.Config().Voters() {
		st, ok := v.Quorum(id)
		if !ok {
			continue
		}
		if !found || st.ActingEpoch > best.ActingEpoch || (st.ActingEpoch == best.ActingEpoch && st.Leader && !best.Leader) {
			best, bestID, found = st, id, true
		}
	}
	if !found || !best.Leader {
		return -1, false
	}
	return bestID, true
}

// Invariant is a check run after every step of a node (every input it took).
type Invariant struct {
	Name string
	// Check returns an error describing the violation: what, which node, which offsets
	// or epochs.
	Check func(v View, node int32) error
}
