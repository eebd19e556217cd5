// Package scenario runs protocol stories written in a small command language against a
// simulated cluster, and produces a transcript that tests compare with a golden file.
//
// A script is one command per line; blank lines and lines starting with # are copied to
// the transcript as they are, so a script reads as a story. Every command is echoed with
// "> " and followed by what it printed. The first command builds the cluster:
//
//	cluster voters=3 brokers=3 [separate] [seed=7] [timing=100|default] [snapshot=10]
//
// makes nodes 1..max(voters, brokers), the first `voters` of them voting and the first
// `brokers` of them brokers; with `separate`, nodes 1..voters are controllers only and the
// brokers follow. Clocks have no drift or skew, there are no random faults and no
// workload: the script does everything. timing scales Kafka's timeouts (percent of
// core.KafkaTiming), or is seedlog's defaults with timing=default; snapshot makes the
// nodes snapshot their metadata image every that many records.
//
// Wherever a node is expected, "leader" names the current quorum leader and "old-leader"
// the node that "leader" named last (crash leader ... expect leader != old-leader);
// "leader-of:t/0" names the leader of partition 0 of topic t in the quorum leader's image;
// "crashed" the node the last crash or shutdown named.
//
// Time and faults:
//
//	run 5s                      advance virtual time
//	wait leader [within=10s]    run until the quorum has a leader (fails after `within`)
//	wait leader != old-leader   ... a leader other than the one named
//	wait brokers [within=20s]   run until every broker is registered and unfenced
//	partition 1 | 2 3           cut the nodes on the left from those on the right, both ways
//	isolate 2                   cut node 2 from every other node
//	cut 1->2                    cut one direction of one link
//	heal                        remove every cut
//	crash 2 / restart 2         power loss of node 2 / start it again from its disk
//	pause 2 / resume 2          stop node 2's process / let it go on
//	shutdown 2 [timeout=30s]    SIGTERM: node 2 asks the controller to move its leaderships
//	                            away and stops once they did, or after the timeout; it
//	                            stays down until restarted
//
// Client operations (through the Kafka API, from one client, waiting up to `timeout`;
// one still running then prints "pending" and goes on in the background):
//
//	create-topic t partitions=3 rf=2 [timeout=30s]
//	delete-topic t
//	create-partitions t count=4
//	describe t
//	list-brokers
//	produce t/0 VALUE           one record with acks=all, sent again (as a new operation)
//	                            until acknowledged: prints "ok at OFFSET" or the last error
//	fetch t/0 [at=0]            read from the partition's leader until a read succeeds:
//	                            prints the high watermark and the records
//
// Inspection and expectations:
//
//	status                      every node's quorum state, then the brokers and topics as
//	                            the quorum leader (or the first node up) sees them
//	expect leader               the quorum has a leader
//	expect leader == 2          ... and it is node 2 (or != 2, or != old-leader)
//	expect leader == none       the quorum has no leader
//	expect epoch >= 3           the highest durable epoch among voters (==, !=, <, <=, >, >=)
//	expect epoch 2 > old-leader node 2's durable epoch, against a number or another
//	                            node's; "all": every voter that is up
//	expect hw all == leader     the quorum high watermark of a node (or of every voter
//	                            up), against a number or another node's; also vote,
//	                            log-start and log-end (the metadata log's bounds)
//	expect log-start 1 > log-end 3   one value of a node's quorum state against another
//	                            value of another node's
//	expect follows all          every node up but the quorum leader (or one node) follows
//	                            it in its epoch, as a follower or an observer
//	expect role 2 == follower   node 2's quorum role
//	expect fenced 3             broker 3 is fenced in the leader's image (or: unfenced 3;
//	                            "all": every broker)
//	expect metadata 5 == leader the offset of node 5's metadata image, against a number or
//	                            another node's
//	expect leader-of t/0 == 2   partition 0 of t has a leader, node 2 (or != 2, != old-leader;
//	                            t/* for every partition of t)
//	expect leader-in-isr t/*    every partition of t (or t/0) has a leader in its ISR
//	expect isr t/0 contains 2   node 2 is in the partition's ISR (or: lacks 2)
//	expect durable t/0 isr >= 2 every ISR member (or one node) holds offsets below 2 of
//	                            the partition on its disk, synced
//	expect last == ok           the last operation's result, as printed after "->"
//	expect took <= 2s           how long the last produce or fetch took, its retries
//	                            included (==, !=, <, <=, >, >=)
//	expect note 3 quorum-snapshot-installed   node 3 emitted a note of that kind (over all
//	                            its incarnations; "... >= 2" compares the count)
//	notes 3                     the kinds of notes node 3 emitted, with counts
//
// The simulator's invariants run after every step; a violation fails the script at the
// command that was running, and the history checkers run at the end.
//
// # Replays
//
// A script whose first command is `seed N` instead of `cluster` is a scenario file
// (seedlog sim shrink writes them; the language is described in sim/scenario.go): a
// whole simulated run of seed N's configuration whose faults and client operations come
// from the script's `at TIME STEP` lines. Run replays it and its transcript says how
// the run ended and which steps did not apply.
package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// Options configure how scripts run.
type Options struct {
	// Base holds the world's machine, disk and tables; the script decides the rest.
	Base sim.Options
	// OpTimeout is how long an operation may take by default (30s when zero).
	OpTimeout time.Duration
}

// Run executes a script and returns its transcript. The error names the line that failed.
func Run(script string, opts Options) (string, error) {
	if isReplay(script) {
		return runReplay(script, opts)
	}
	r := &runner{opts: opts, out: &strings.Builder{}}
	if r.opts.OpTimeout == 0 {
		r.opts.OpTimeout = 30 * time.Second
	}
	for i, line := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			r.out.WriteString(line + "\n")
			continue
		}
		fmt.Fprintf(r.out, "> %s\n", trimmed)
		if err := r.command(trimmed); err != nil {
			return r.out.String(), fmt.Errorf("line %d: %s: %w", i+1, trimmed, err)
		}
		if r.w != nil {
			if f := r.w.Failure(); f != nil {
				return r.out.String(), fmt.Errorf("line %d: %s: %v", i+1, trimmed, f)
			}
		}
	}
	if r.w == nil {
		return r.out.String(), fmt.Errorf("the script never built a cluster")
	}
	res := r.w.Finish()
	if res.Failure != nil {
		return r.out.String(), fmt.Errorf("at the end: %v", res.Failure)
	}
	return r.out.String(), nil
}

// isReplay reports whether a script is a scenario file: its first command is seed.
func isReplay(script string) bool {
	for _, line := range strings.Split(script, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			return strings.HasPrefix(t, "seed ")
		}
	}
	return false
}

// runReplay runs a scenario file: its comments, then a summary of the replay and of
// the steps that did not apply, then how the run ended.
func runReplay(script string, opts Options) (string, error) {
	out := &strings.Builder{}
	for _, line := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			out.WriteString(line + "\n")
		}
	}
	sc, err := sim.ParseScenario(script)
	if err != nil {
		return out.String(), err
	}
	faults, ops := sc.Schedule.Counts()
	fmt.Fprintf(out, "> replay of seed %d: %d faults, %d client operations\n", sc.Seed, faults, ops)
	r := sim.Run(sc.Options(opts.Base))
	if r.Failure != nil && r.Failure.Checker == "setup" {
		return out.String(), r.Failure
	}
	for _, st := range r.StepsDone {
		if st.Skipped != "" {
			fmt.Fprintf(out, "not applied: at %v %s: %s\n", time.Duration(st.At), st.Line, st.Skipped)
		}
	}
	if r.Failure != nil {
		line, _, _ := strings.Cut(r.Failure.Error(), "\n")
		fmt.Fprintf(out, "-> failed: %s\n", line)
		return out.String(), fmt.Errorf("the replay failed: %v", r.Failure)
	}
	fmt.Fprintf(out, "-> passed (%d operations, %v virtual)\n", len(r.History.Ops), r.VirtualEnd.Round(time.Millisecond))
	return out.String(), nil
}

type runner struct {
	opts Options
	w    *sim.World
	out  *strings.Builder
	last string // the last operation's result
	// took is how long the last produce or fetch took, its retries included.
	took time.Duration
	// oldLeader is the node the word "leader" last stood for; crashed the node the last
	// crash or shutdown named.
	oldLeader, crashed int32
}

func (r *runner) printf(format string, args ...any) { fmt.Fprintf(r.out, format+"\n", args...) }

// command runs one line.
func (r *runner) command(line string) error {
	words := strings.Fields(line)
	name, args := words[0], words[1:]
	if name == "cluster" {
		if r.w != nil {
			return fmt.Errorf("the cluster is already built")
		}
		return r.cluster(args)
	}
	if r.w == nil {
		return fmt.Errorf("build the cluster first (cluster voters=3 brokers=3)")
	}
	switch name {
	case "run":
		return r.run(args)
	case "wait":
		return r.wait(args)
	case "partition":
		return r.partition(args)
	case "isolate":
		return r.isolate(args)
	case "cut":
		return r.cut(args)
	case "heal":
		r.w.Heal()
		return nil
	case "crash", "restart", "pause", "resume":
		return r.lifecycle(name, args)
	case "shutdown":
		return r.shutdown(args)
	case "create-topic", "delete-topic", "create-partitions", "describe", "list-brokers":
		return r.operation(name, args)
	case "produce", "fetch":
		return r.data(name, args)
	case "status":
		r.status()
		return nil
	case "notes":
		return r.notes(args)
	case "expect":
		return r.expect(args)
	}
	return fmt.Errorf("unknown command %q", name)
}

// keyValues splits "k=v" words; bare words go to flags.
func keyValues(args []string) (map[string]string, []string) {
	kv := map[string]string{}
	var bare []string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && isWord(k) {
			kv[k] = v
		} else {
			bare = append(bare, a)
		}
	}
	return kv, bare
}

// isWord reports whether s is a key of a key=value argument: letters and dashes.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}

func intArg(kv map[string]string, key string, def int) (int, error) {
	v, ok := kv[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q is not a count", key, v)
	}
	return n, nil
}

func (r *runner) cluster(args []string) error {
	kv, bare := keyValues(args)
	voters, err := intArg(kv, "voters", 3)
	if err != nil {
		return err
	}
	brokers, err := intArg(kv, "brokers", voters)
	if err != nil {
		return err
	}
	seed, err := intArg(kv, "seed", 1)
	if err != nil {
		return err
	}
	timing := 0 // seedlog's defaults
	if kv["timing"] != "default" {
		timing, err = intArg(kv, "timing", 100)
		if err != nil || timing == 0 {
			return fmt.Errorf("timing=%q: want a percentage of Kafka's timeouts, or default", kv["timing"])
		}
	}
	snapshot, err := intArg(kv, "snapshot", 0)
	if err != nil {
		return err
	}
	separate := slices.Contains(bare, "separate")
	if voters%2 == 0 || brokers == 0 {
		return fmt.Errorf("want an odd number of voters and at least one broker")
	}
	nodes := buildNodes(voters, brokers, separate)
	opts := r.opts.Base
	opts.Seed = uint64(seed)
	opts.NoFaults, opts.NoWorkload = true, true
	adjust := opts.Adjust
	opts.Adjust = func(c *sim.Config) {
		if adjust != nil {
			adjust(c)
		}
		c.Nodes = nodes
		c.Separate = separate
		c.TimingScale = timing
		c.Timing = sim.ScaleTiming(timing)
		c.Faults = sim.FaultConfig{Interval: time.Second}
		c.Workload.Clients = 0
		c.SafetyDuration = 1000 * time.Hour
		c.SnapshotRecords = snapshot
		c.QuorumFetchBytesMax, c.QuorumSnapshotChunkBytes = 0, 0
		c.LivenessBound = sim.LivenessBound(c.Timing)
	}
	w, err := sim.NewWorld(opts)
	if err != nil {
		return err
	}
	r.w = w
	cfg := w.Config()
	r.printf("cluster: %d nodes, voters %v, brokers %v", len(cfg.Nodes), cfg.Voters(), cfg.Brokers())
	return nil
}

func buildNodes(voters, brokers int, separate bool) []sim.NodeSpec {
	var nodes []sim.NodeSpec
	if separate {
		for i := 1; i <= voters; i++ {
			nodes = append(nodes, sim.NodeSpec{ID: int32(i), Voter: true})
		}
		for i := 1; i <= brokers; i++ {
			nodes = append(nodes, sim.NodeSpec{ID: int32(voters + i), Broker: true})
		}
		return nodes
	}
	for i := 1; i <= max(voters, brokers); i++ {
		nodes = append(nodes, sim.NodeSpec{ID: int32(i), Voter: i <= voters, Broker: i <= brokers})
	}
	return nodes
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 5s, 250ms)", s)
	}
	return d, nil
}

func (r *runner) run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want: run DURATION")
	}
	d, err := parseDuration(args[0])
	if err != nil {
		return err
	}
	r.w.RunFor(d)
	return nil
}

func (r *runner) wait(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("want: wait leader [!= NODE] [within=DURATION] | wait brokers [within=DURATION]")
	}
	kv, bare := keyValues(args[1:])
	within := 10 * r.w.Config().Timing.ElectionTimeout
	if args[0] == "brokers" {
		within = 2 * r.w.Config().Timing.SessionTimeout
	}
	if s, ok := kv["within"]; ok {
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		within = d
	}
	start := r.w.Now()
	switch args[0] {
	case "leader":
		avoid := int32(-1)
		if len(bare) == 2 && bare[0] == "!=" {
			ids, err := r.nodeList(bare[1:])
			if err != nil {
				return err
			}
			avoid = ids[0]
		} else if len(bare) != 0 {
			return fmt.Errorf("want: wait leader [!= NODE] [within=DURATION]")
		}
		cond := func() bool { l, ok := r.w.View().QuorumLeader(); return ok && l != avoid }
		if ok, _ := r.w.RunUntil(cond, within); !ok {
			return fmt.Errorf("no quorum leader within %v", within)
		}
		leader, _ := r.w.View().QuorumLeader()
		r.printf("leader n%d after %v", leader, (r.w.Now() - start).Round(time.Millisecond))
	case "brokers":
		if ok, _ := r.w.RunUntil(r.brokersUnfenced, within); !ok {
			return fmt.Errorf("the brokers were not all registered and unfenced within %v", within)
		}
		r.printf("brokers unfenced after %v", (r.w.Now() - start).Round(time.Millisecond))
	default:
		return fmt.Errorf("cannot wait for %q (leader, brokers)", args[0])
	}
	return nil
}

// brokersUnfenced reports whether the quorum leader's image has every broker registered
// and unfenced.
func (r *runner) brokersUnfenced() bool {
	v := r.w.View()
	leader, ok := v.QuorumLeader()
	if !ok {
		return false
	}
	md, ok := v.Metadata(leader)
	if !ok {
		return false
	}
	want := r.w.Config().Brokers()
	if len(md.Brokers) != len(want) {
		return false
	}
	for _, b := range md.Brokers {
		if b.Fenced {
			return false
		}
	}
	return true
}

// nodeList parses node ids. "leader" names the current quorum leader and "old-leader"
// the node "leader" last named.
func (r *runner) nodeList(words []string) ([]int32, error) {
	var ids []int32
	for _, w := range words {
		switch w {
		case "leader":
			leader, ok := r.w.View().QuorumLeader()
			if !ok {
				return nil, fmt.Errorf("the quorum has no leader to name")
			}
			r.oldLeader = leader
			ids = append(ids, leader)
			continue
		case "old-leader":
			if r.oldLeader == 0 {
				return nil, fmt.Errorf("no leader was named yet")
			}
			ids = append(ids, r.oldLeader)
			continue
		case "crashed":
			if r.crashed == 0 {
				return nil, fmt.Errorf("no node was crashed or shut down yet")
			}
			ids = append(ids, r.crashed)
			continue
		}
		if p, ok := strings.CutPrefix(w, "leader-of:"); ok {
			id, err := r.partitionLeader(p)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
			continue
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 || n > len(r.w.Config().Nodes) {
			return nil, fmt.Errorf("%q is not a node (1..%d)", w, len(r.w.Config().Nodes))
		}
		ids = append(ids, int32(n))
	}
	return ids, nil
}

func (r *runner) partition(args []string) error {
	i := slices.Index(args, "|")
	if i <= 0 || i == len(args)-1 {
		return fmt.Errorf("want: partition A... | B...")
	}
	left, err := r.nodeList(args[:i])
	if err != nil {
		return err
	}
	right, err := r.nodeList(args[i+1:])
	if err != nil {
		return err
	}
	return r.w.Cut(left, right)
}

func (r *runner) isolate(args []string) error {
	ids, err := r.nodeList(args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("want: isolate NODE")
	}
	var others []int32
	for _, n := range r.w.Config().Nodes {
		if n.ID != ids[0] {
			others = append(others, n.ID)
		}
	}
	return r.w.Cut(ids, others)
}

func (r *runner) cut(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want: cut FROM->TO")
	}
	from, to, ok := strings.Cut(args[0], "->")
	if !ok {
		return fmt.Errorf("want: cut FROM->TO")
	}
	ids, err := r.nodeList([]string{from, to})
	if err != nil {
		return err
	}
	return r.w.CutOneWay(ids[0], ids[1])
}

func (r *runner) lifecycle(name string, args []string) error {
	ids, err := r.nodeList(args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("want: %s NODE", name)
	}
	switch name {
	case "crash":
		r.crashed = ids[0]
		return r.w.Crash(ids[0])
	case "restart":
		return r.w.Restart(ids[0])
	case "pause":
		return r.w.Pause(ids[0])
	}
	return r.w.Resume(ids[0])
}

func (r *runner) shutdown(args []string) error {
	kv, bare := keyValues(args)
	ids, err := r.nodeList(bare)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("want: shutdown NODE [timeout=DURATION]")
	}
	r.crashed = ids[0]
	timeout := 30 * time.Second
	if s, ok := kv["timeout"]; ok {
		if timeout, err = parseDuration(s); err != nil {
			return err
		}
	}
	return r.w.Shutdown(ids[0], timeout)
}

func (r *runner) operation(name string, args []string) error {
	kv, bare := keyValues(args)
	op := &sim.Op{}
	switch name {
	case "list-brokers":
		op.Kind = sim.OpListBrokers
	default:
		if len(bare) != 1 {
			return fmt.Errorf("want: %s TOPIC ...", name)
		}
		op.Topic = bare[0]
	}
	var err error
	count := func(key string, def int) int32 {
		var n int
		if err == nil {
			n, err = intArg(kv, key, def)
		}
		return int32(n)
	}
	switch name {
	case "create-topic":
		op.Kind, op.Count, op.RF = sim.OpCreate, count("partitions", 1), count("rf", 1)
	case "delete-topic":
		op.Kind = sim.OpDelete
	case "create-partitions":
		op.Kind, op.Count = sim.OpCreatePartitions, count("count", 1)
	case "describe":
		op.Kind = sim.OpDescribe
	}
	if err != nil {
		return err
	}
	timeout := r.opts.OpTimeout
	if s, ok := kv["timeout"]; ok {
		if timeout, err = parseDuration(s); err != nil {
			return err
		}
	}
	r.w.Do(op, timeout)
	r.last = op.Result()
	r.printf("-> %s", r.last)
	return nil
}

// data produces to or fetches from a partition.
func (r *runner) data(name string, args []string) error {
	kv, bare := keyValues(args)
	want := 1
	if name == "produce" {
		want = 2
	}
	if len(bare) != want {
		return fmt.Errorf("want: produce TOPIC/PARTITION VALUE, or fetch TOPIC/PARTITION [at=OFFSET]")
	}
	tp, err := parsePartition(bare[0])
	if err != nil {
		return err
	}
	timeout := r.opts.OpTimeout
	if s, ok := kv["timeout"]; ok {
		if timeout, err = parseDuration(s); err != nil {
			return err
		}
	}
	var op *sim.Op
	var f *sim.Failure
	start := r.w.Now()
	defer func() { r.took = r.w.Now() - start }()
	if name == "produce" {
		op, f = r.w.Produce(tp, bare[1], timeout)
	} else {
		at, err := intArg(kv, "at", 0)
		if err != nil {
			return err
		}
		op, f = r.w.Fetch(tp, int64(at), timeout)
	}
	if f != nil {
		return f
	}
	r.last = "nothing"
	if op != nil {
		r.last = op.Result()
	}
	r.printf("-> %s", r.last)
	return nil
}

// parsePartition parses TOPIC/PARTITION.
func parsePartition(s string) (sim.TopicPartition, error) {
	topic, p, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(p)
	if !ok || topic == "" || err != nil || n < 0 {
		return sim.TopicPartition{}, fmt.Errorf("%q is not TOPIC/PARTITION", s)
	}
	return sim.TopicPartition{Topic: topic, Partition: int32(n)}, nil
}

// partitionLeader is the leader of a partition in the quorum leader's image.
func (r *runner) partitionLeader(s string) (int32, error) {
	tp, err := parsePartition(s)
	if err != nil {
		return 0, err
	}
	v := r.w.View()
	seer, ok := v.QuorumLeader()
	if !ok {
		return 0, fmt.Errorf("the quorum has no leader to ask who leads %s", s)
	}
	md, _ := v.Metadata(seer)
	for _, t := range md.Topics {
		if t.Name == tp.Topic && int(tp.Partition) < len(t.Leaders) && t.Leaders[tp.Partition] > 0 {
			return t.Leaders[tp.Partition], nil
		}
	}
	return 0, fmt.Errorf("%s has no leader", s)
}

// partitionISR is the ISR of a partition in the quorum leader's image.
func (r *runner) partitionISR(s string) ([]int32, error) {
	tp, err := parsePartition(s)
	if err != nil {
		return nil, err
	}
	v := r.w.View()
	seer, ok := v.QuorumLeader()
	if !ok {
		return nil, fmt.Errorf("the quorum has no leader to ask for the ISR of %s", s)
	}
	md, _ := v.Metadata(seer)
	for _, t := range md.Topics {
		if t.Name == tp.Topic && int(tp.Partition) < len(t.ISRs) {
			return t.ISRs[tp.Partition], nil
		}
	}
	return nil, fmt.Errorf("no partition %s", s)
}

// notes prints the kinds of notes a node emitted.
func (r *runner) notes(args []string) error {
	ids, err := r.nodeList(args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("want: notes NODE")
	}
	counts := r.w.View().Notes(ids[0])
	var parts []string
	for _, k := range counts.Names() {
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	r.printf("n%d notes: %s", ids[0], strings.Join(parts, " "))
	return nil
}

// status prints the quorum state of every node and the leader's view of the cluster.
func (r *runner) status() {
	v := r.w.View()
	cfg := r.w.Config()
	for _, n := range cfg.Nodes {
		if !v.Up(n.ID) {
			r.printf("n%d down", n.ID)
			continue
		}
		st, ok := v.Quorum(n.ID)
		if !ok {
			r.printf("n%d up", n.ID)
			continue
		}
		leader := "none"
		if st.LeaderID >= 0 {
			leader = fmt.Sprintf("n%d", st.LeaderID)
		}
		r.printf("n%d up   %-11s epoch %d leader %s hw %d end %d", n.ID, st.Role, st.ActingEpoch, leader, st.HW, st.EndOffset)
	}
	seer, ok := v.QuorumLeader()
	if !ok {
		for _, n := range cfg.Nodes {
			if v.Up(n.ID) {
				seer, ok = n.ID, true
				break
			}
		}
	}
	if !ok {
		return
	}
	md, ok := v.Metadata(seer)
	if !ok {
		return
	}
	var brokers []string
	for _, b := range md.Brokers {
		s := fmt.Sprintf("%d", b.ID)
		if b.Fenced {
			s += " (fenced)"
		}
		brokers = append(brokers, s)
	}
	r.printf("as n%d sees it at offset %d: brokers [%s]", seer, md.Offset, strings.Join(brokers, ", "))
	for _, t := range md.Topics {
		r.printf("  topic %s leaders %v", t.Name, t.Leaders)
	}
}
