package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/traces"
)

// A scripted run (Options.Schedule) takes its faults and client operations from a
// schedule instead of the seed's generators. Everything else still comes from the seed:
// the configuration, the network's delays and losses, the disks, the clients' protocol
// choices (which broker to ask, which version), the byzantine client.
//
// The generators keep running, drawing what they always draw, but they act only where
// the schedule says: a client whose turn comes at the very time of one of its steps
// takes that step's arguments instead of those it drew, and does nothing at other
// turns. Replaying a run's whole schedule therefore repeats the run exactly (the same
// fingerprint, ties of events at one nanosecond aside), while a schedule with steps
// removed or moved still runs each step at its time: a client step the generator does
// not meet comes due by itself (an event at its time, queued after every event already
// due then, so that a generator's turn at that very time takes it first).
//
// Faults follow one another as the fault schedule's own events do: each applies at its
// time and then plans the next. Crashes bound to a moment (on=write, on=election) wait
// for that moment at or after their time. A step that cannot apply (its node is down, a
// corruption over the budget, a network fault on a client that does not exist yet) is
// skipped; a client step waits while its client is busy with the previous one.
type script struct {
	w     *World
	steps []Step
	// status says what became of each step, for the trace (traces.Step).
	status []traces.Step
	used   []bool
	// faults are the indices of the steps the fault schedule applies in turn; next is
	// the next of them.
	faults    []int
	nextFault int
	// Per client: operation steps (a cursor skips those used); per node: crashes that
	// wait for a write or an election.
	ops        map[int32][]int
	leaves     map[int32][]int
	txnTurns   map[int32][]int
	onWrite    map[int32][]int
	onElection map[int32][]int
	onTakeover map[int32][]int
	leaveDown  []int
	// await maps a client to the step whose history operation it starts next; turnStep
	// is the step the last generator's turn took.
	await    map[int32]int
	turnStep int
}

func newScript(w *World, s *Schedule) *script {
	sc := &script{w: w, steps: slices.Clone(s.Steps), ops: map[int32][]int{}, leaves: map[int32][]int{}, txnTurns: map[int32][]int{},
		onWrite: map[int32][]int{}, onElection: map[int32][]int{}, onTakeover: map[int32][]int{}, await: map[int32]int{}}
	sched := Schedule{Steps: sc.steps}
	sched.Sort()
	sc.used = make([]bool, len(sc.steps))
	sc.status = make([]traces.Step, len(sc.steps))
	for i := range sc.steps {
		st := &sc.steps[i]
		sc.status[i] = traces.Step{At: int64(st.At), Line: formatStep(st), Node: -1, Client: -1, Fault: st.Kind.IsFault(), Skipped: "not reached"}
		if st.Kind.IsFault() && st.Node > 0 {
			sc.status[i].Node = st.Node
		}
		switch st.Kind {
		case StepCrashOnWrite:
			sc.onWrite[st.Node] = append(sc.onWrite[st.Node], i)
		case StepCrashAtElection:
			sc.onElection[st.Node] = append(sc.onElection[st.Node], i)
		case StepCrashAtTakeover:
			sc.onTakeover[st.Node] = append(sc.onTakeover[st.Node], i)
		case StepLeaveDown:
			sc.leaveDown = append(sc.leaveDown, i)
		case StepLeave:
			sc.leaves[st.Client] = append(sc.leaves[st.Client], i)
			sc.status[i].Client = st.Client
		case StepTxnCrash, StepTxnIdle, StepTxnSloppy:
			sc.txnTurns[st.Client] = append(sc.txnTurns[st.Client], i)
			sc.status[i].Client = st.Client
		default:
			if st.Kind.IsFault() {
				sc.faults = append(sc.faults, i)
			} else {
				sc.ops[st.Client] = append(sc.ops[st.Client], i)
				sc.status[i].Client = st.Client
			}
		}
	}
	return sc
}

// validate checks the steps against the world's nodes and clients, once the clients
// exist.
func (s *script) validate() error {
	w := s.w
	for i := range s.steps {
		st := &s.steps[i]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("scenario step at %v (%s): %s", st.At, formatStep(st), fmt.Sprintf(format, args...))
		}
		if st.Kind.IsFault() {
			ids := slices.Clone(st.Nodes)
			if st.Kind != StepNet && st.Kind != StepLinkRates && st.Kind != StepPowerLoss && st.Kind != StepLeaveDown {
				ids = append(ids, st.Node)
			}
			for _, id := range ids {
				if w.node(id) == nil {
					return bad("no node %d (nodes are 1..%d)", id, len(w.nodes))
				}
			}
			if st.Kind == StepNet {
				if err := s.validAddrs(st); err != nil {
					return bad("%v", err)
				}
			}
			continue
		}
		if st.Client < 1 || int(st.Client) > len(w.clients) {
			return bad("no client %d (clients are 1..%d)", st.Client, len(w.clients))
		}
		c := w.clients[st.Client-1]
		if !c.accepts(st) {
			return bad("client %d is %s", c.id, c.desc)
		}
	}
	return nil
}

// validAddrs checks that a network fault names nodes of the run. A client it names may
// not exist yet (a transactional id's later instance): the step is skipped if it still
// does not when its time comes (faultSchedule.applicable).
func (s *script) validAddrs(st *Step) error {
	for _, a := range netAddrs(&st.Net) {
		if a >= clientAddrBase {
			continue
		}
		if s.w.node(int32(a)) == nil {
			return fmt.Errorf("no node %d", a)
		}
	}
	if f := &st.Net; (f.Kind == netsim.FaultCutOneWay || f.Kind == netsim.FaultClog) && f.From >= clientAddrBase && f.To >= clientAddrBase {
		return fmt.Errorf("a link between two clients")
	}
	return nil
}

// netAddrs lists the addresses a network fault names.
func netAddrs(f *netsim.Fault) []netsim.Addr {
	addrs := append(append([]netsim.Addr{}, f.Side...), f.Other...)
	switch f.Kind {
	case netsim.FaultIsolate:
		addrs = append(addrs, f.A)
	case netsim.FaultBridge:
		addrs = append(addrs, f.A)
	case netsim.FaultCutOneWay, netsim.FaultClog:
		addrs = append(addrs, f.From, f.To)
	}
	return addrs
}

// start plans the client steps: each comes due by itself at its time.
func (s *script) start() {
	for _, id := range sortedKeys(s.ops) {
		for _, i := range s.ops[id] {
			e := s.w.schedule(int64(s.steps[i].At), evScript)
			e.token = uint64(i)
		}
	}
}

// due handles a client step's own event: the first time it comes due it waits for the
// events already due at the same time (a generator's turn may take it), the second
// time it starts the step unless something took it.
func (s *script) due(e *event) {
	i := int(e.token)
	if s.used[i] {
		return
	}
	if e.gen == 0 {
		again := s.w.schedule(s.w.now, evScript)
		again.token, again.gen = e.token, 1
		return
	}
	st := &s.steps[i]
	c := s.w.clients[st.Client-1]
	s.take(i)
	if len(c.steps) > 0 || !s.tryStart(c, i) {
		c.steps = append(c.steps, i)
	}
}

// tryStart starts step i on client c and reports whether it is done with it (started
// or skipped); false means c is busy and the step must wait.
func (s *script) tryStart(c *Client, i int) bool {
	w := s.w
	if w.phase != phaseSafety || w.failure != nil {
		s.skip(i, "the safety phase was over")
		return true
	}
	s.await[c.id] = i
	switch why := c.onStep(&s.steps[i]); why {
	case "":
		s.applied(i)
	case stepBusy:
		delete(s.await, c.id)
		return false
	default:
		delete(s.await, c.id)
		s.skip(i, why)
	}
	return true
}

// stepBusy is what onStep answers when its client cannot start a step yet.
const stepBusy = "busy"

// freed starts the steps that waited for client c, in order, as far as it can; clients
// call it when they finish a step. A step leaves the queue before it starts: one that
// finishes at once (a drain with nothing to move) frees c again, and the freed it calls
// must go on with the next step, not start this one again.
func (s *script) freed(c *Client) {
	for len(c.steps) > 0 {
		i := c.steps[0]
		c.steps = c.steps[1:]
		if !s.tryStart(c, i) {
			c.steps = slices.Insert(c.steps, 0, i)
			return
		}
	}
}

// take marks step i used.
func (s *script) take(i int) {
	s.used[i] = true
	s.status[i].At = s.w.now
}

func (s *script) applied(i int) {
	s.status[i].At = s.w.now
	s.status[i].Skipped = ""
}

func (s *script) skip(i int, why string) {
	s.used[i] = true
	s.status[i].At = s.w.now
	s.status[i].Skipped = why
	s.w.cov.Inc("script:skipped")
}

// turn is a generator's turn for client c: the step of c due at exactly now, taken, or
// nil.
func (s *script) turn(c *Client, kinds ...StepKind) *Step {
	list := s.ops[c.id]
	for len(list) > 0 && s.used[list[0]] {
		list = list[1:]
	}
	s.ops[c.id] = list
	for _, i := range list {
		st := &s.steps[i]
		if int64(st.At) > s.w.now {
			break
		}
		if s.used[i] || int64(st.At) != s.w.now || !slices.Contains(kinds, st.Kind) || len(c.steps) > 0 {
			continue
		}
		s.take(i)
		s.applied(i)
		s.await[c.id] = i
		s.turnStep = i
		return st
	}
	return nil
}

// skipTurn records that the generator could not start the step its turn took.
func (s *script) skipTurn(c *Client, why string) {
	delete(s.await, c.id)
	s.skip(s.turnStep, why)
}

// leave reports whether member client c has a departure due (at or before now), and
// takes it.
func (s *script) leave(c *Client) bool {
	for _, i := range s.leaves[c.id] {
		if !s.used[i] && int64(s.steps[i].At) <= s.w.now {
			s.take(i)
			s.applied(i)
			return true
		}
	}
	return false
}

// txnTurn takes the first step of kind for the transactional id whose first client is
// c that is due (at or before now), for the transaction beginning now; nil when none is.
func (s *script) txnTurn(c *Client, kind StepKind) *Step {
	for _, i := range s.txnTurns[c.id] {
		st := &s.steps[i]
		if !s.used[i] && st.Kind == kind && int64(st.At) <= s.w.now {
			s.take(i)
			s.applied(i)
			return st
		}
	}
	return nil
}

// accepts reports whether client c can take step st: the step is of c's kind (and, for
// a group member, of its group).
func (c *Client) accepts(st *Step) bool {
	if c.onStep == nil {
		return false
	}
	switch c.role {
	case roleWorkload:
		return st.Kind == StepAdmin
	case roleProducer:
		if c.w.data != nil && c.w.data.txnHome(c) {
			return st.Kind == StepTxnStart || st.Kind == StepTxnCrash || st.Kind == StepTxnIdle || st.Kind == StepTxnSloppy
		}
		return st.Kind == StepProduce
	case roleConsumer:
		return st.Kind == StepFetch || st.Kind == StepListOffsets || st.Kind == StepDeleteRecords
	case roleGrower:
		return st.Kind == StepAddPartition
	case roleElector:
		return st.Kind == StepElectLeaders
	case roleMover:
		return st.Kind == StepReassign || st.Kind == StepDrain
	case roleOffsetAdmin:
		return st.Kind == StepOffsetCommit || st.Kind == StepOffsetDelete || st.Kind == StepOffsetFetch
	case roleCredentials:
		return st.Kind == StepSetCredential || st.Kind == StepDeleteCredential || st.Kind == StepAuthenticate ||
			st.Kind == StepAclChange || st.Kind == StepAccess
	case roleMember:
		if st.Kind != StepJoin && st.Kind != StepLeave {
			return false
		}
		groups := c.w.data.groups
		if c.w.data.ctp != nil {
			groups = append(slices.Clip(groups), c.w.data.ctp.g)
		}
		for _, g := range groups {
			for _, m := range g.members {
				if m.c == c {
					return g.spec.Name == st.Group
				}
			}
		}
	}
	return false
}

// invoked notes the history operation a client step started.
func (s *script) invoked(c *Client, op *Op) {
	if i, ok := s.await[c.id]; ok {
		s.status[i].Op = int64(op.ID)
		delete(s.await, c.id)
	}
}

// nextFaultStep returns the next fault step the fault schedule applies, or nil.
func (s *script) nextFaultStep() (int, *Step) {
	if s.nextFault >= len(s.faults) {
		return -1, nil
	}
	i := s.faults[s.nextFault]
	return i, &s.steps[i]
}

// crashOnWrite takes the crash waiting for a write of node n, if one is due: the first
// at or after its time, the Nth of those at exactly its time.
func (s *script) crashOnWrite(n *simNode) (int, *Step) {
	for _, i := range s.onWrite[n.spec.ID] {
		st := &s.steps[i]
		if s.used[i] || int64(st.At) > s.w.now {
			continue
		}
		if int64(st.At) == s.w.now && n.writeNth < st.Nth {
			continue
		}
		s.take(i)
		return i, st
	}
	return -1, nil
}

// crashAtElection takes the crash waiting for an election of node n, if one is due.
func (s *script) crashAtElection(n *simNode) (int, *Step) {
	for _, i := range s.onElection[n.spec.ID] {
		st := &s.steps[i]
		if !s.used[i] && int64(st.At) <= s.w.now {
			s.take(i)
			return i, st
		}
	}
	return -1, nil
}

// crashAtTakeover takes the crash waiting for node n to take over a partition, if one
// is due.
func (s *script) crashAtTakeover(n *simNode) (int, *Step) {
	for _, i := range s.onTakeover[n.spec.ID] {
		st := &s.steps[i]
		if !s.used[i] && int64(st.At) <= s.w.now {
			s.take(i)
			return i, st
		}
	}
	return -1, nil
}

// leftDown returns the brokers the schedule leaves down for the liveness phase.
func (s *script) leftDown() []int32 {
	var ids []int32
	for _, i := range s.leaveDown {
		s.take(i)
		for _, id := range s.steps[i].Nodes {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// leavesDown reports whether the schedule leaves any broker down.
func (s *script) leavesDown() bool {
	for _, i := range s.leaveDown {
		if len(s.steps[i].Nodes) > 0 {
			return true
		}
	}
	return false
}

// Steps returns what became of each step, for the trace.
func (s *script) report() []traces.Step {
	return slices.Clone(s.status)
}

// strikeWithin is an armed crash's delay when the schedule says it (planned), kept
// within d as a random one would be.
func strikeWithin(planned time.Duration, d int64) int64 {
	return max(min(int64(planned), max(d, 1)-1), 0)
}
