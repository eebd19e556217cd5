package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/netsim"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A scenario file is a schedule in text, for people to read and edit and for seedlog
// sim run --scenario to replay. Lines starting with # are comments, and so is anything
// after " #" on a line. The first lines name the run, then one step per line:
//
//	seed 42                       the seed whose configuration the run draws (required)
//	plants fetch-above-hw         planted bugs, comma-separated (needs -tags simbugs)
//	mode flush-async              log.flush=async (Options.FlushAsync); mode byzantine too
//	duration 2m                   the safety phase's length (Options.Duration)
//	at 1.25s STEP                 a step at that virtual time (a Go duration, exact to 1ns)
//
// Faults (N is a node id; an address is a node id or cK for client K):
//
//	crash N down=D                          crash now, restart after D
//	crash N down=D arm=disk-op strike=S     crash S into the node's next disk op
//	crash N down=D arm=before-fsync strike=S
//	                                        ... S after its next batch started, once its
//	                                        writes completed and before its fsyncs do
//	crash N down=D arm=answer:Produce strike=S
//	                                        ... S after it next answers that API
//	crash N down=D arm=election then=now strike=S
//	                                        ... S after it next wins a quorum election, or
//	                                        then=sync: at its first sync after it
//	crash N down=D on=write nth=K strike=S  S into its first state-file write at or after
//	                                        the step (the K-th of those at exactly its time)
//	crash N down=D on=takeover strike=S     S after it next takes over a data partition's
//	                                        leadership from another leader
//	crash N down=D on=election then=now strike=S
//	                                        right after its first election at or after the
//	                                        step (then=sync: at its next sync)
//	power-loss down=D                       every node crashes, all restart after D
//	pause N for=D
//	isolate ADDR for=D                      cut an address from every node
//	split ADDR... for=D                     cut those addresses from every other node
//	cut A->B for=D                          cut one direction of one link
//	bridge A... <B> C... for=D              cut the sides from each other but for B
//	clog A->B for=D                         hold the messages of one link for D
//	                                        (every network fault but a clog heals the whole
//	                                        network when it ends)
//	link-rates for=D loss-ppm=L dup-ppm=U reorder-ppm=R break-ppm=K
//	disk-eio N for=D write-ppm=W sync-ppm=S
//	disk-enospc N for=D ppm=P
//	read-corrupt N for=D ppm=P
//	corrupt N file=PATH offset=O bytes=B [how=lose]
//	                                        corrupt a quorum file, or a closed segment of
//	                                        a data partition, at rest (how=lose zeroes
//	                                        the bytes: a lost sector)
//	clock-jump N by=D                       the node's clock jumps forward
//	shutdown N timeout=T down=D             SIGTERM: a controlled shutdown, the node stops
//	                                        when ready or after T, restarts after D
//	leave-down N...                         leave brokers down for the liveness phase
//
// Client operations, each started by the client it names at its time (the clients and
// their roles come from the seed's configuration; the file's comments list them):
//
//	client K create-topic T partitions=P rf=R
//	client K delete-topic T | create-partitions T count=P | describe T | list-brokers
//	client K produce T/P records=R          a producer's batch of R new records
//	client K fetch T/P min-bytes=M          a reader's fetch at its position
//	client K list-offsets T/P latest        (or earliest)
//	client K delete-records T/P offset=O    a reader's DeleteRecords below O (-1: the HW)
//	client K add-partition T                the grower adds a partition to T if it may
//	client K join G                         a group member starts: it joins and works
//	client K leave G                        ... leaves at its next poll, rejoins later
//	client K offset-commit G T/P offset=O   the offsets administrator commits O for T/P in G
//	client K offset-delete G T partition=P  ... deletes G's offsets of T/P (-1: all of T)
//	client K offset-fetch G                 ... reads G's offsets of every data partition
//	client K txn-start                      a transactional id starts (K: its first client)
//	client K txn-crash after=N [zombie]     its first transaction that begins at or after the
//	                                        step crashes once N batches went out (0: before
//	                                        adding partitions; end: with its EndTxn out; a
//	                                        worker: after partitions added 1, batch written
//	                                        2, offsets committed 3); zombie: the crashed
//	                                        instance writes once more with its old epoch
//	client K txn-idle                       ... idles past its timeout before it ends
//	client K txn-sloppy hold=D              ... aborts as its first batch goes out, holding
//	                                        that batch D on its way
//
// A step that cannot apply when its time comes (a crash of a node that is down, a
// corruption over the budget) is skipped and the run's trace says so.

// Scenario is a replayable run: the seed whose configuration it draws, the options
// beyond the seed, and the schedule that replaces the seed's generators.
type Scenario struct {
	Seed       uint64
	Plants     []string
	FlushAsync bool
	Byzantine  bool
	// Duration is the safety phase's length when the run set it (0: the seed's draw).
	Duration time.Duration
	Schedule Schedule
	// Comments are printed at the top of the file, one per line (without "# ").
	Comments []string
	// Notes are comments printed after steps, by step index.
	Notes map[int]string
}

// Options returns the run options of the scenario over base.
func (sc *Scenario) Options(base Options) Options {
	opts := base
	opts.Seed = sc.Seed
	opts.Plants = slices.Clone(sc.Plants)
	opts.FlushAsync = opts.FlushAsync || sc.FlushAsync
	opts.Byzantine = opts.Byzantine || sc.Byzantine
	if sc.Duration > 0 {
		opts.Duration = sc.Duration
	}
	s := sc.Schedule
	opts.Schedule = &s
	return opts
}

// String renders the scenario file.
func (sc *Scenario) String() string {
	var b strings.Builder
	for _, c := range sc.Comments {
		if c == "" {
			b.WriteString("#\n")
			continue
		}
		fmt.Fprintf(&b, "# %s\n", c)
	}
	fmt.Fprintf(&b, "seed %d\n", sc.Seed)
	if len(sc.Plants) > 0 {
		fmt.Fprintf(&b, "plants %s\n", strings.Join(sc.Plants, ","))
	}
	if sc.FlushAsync {
		fmt.Fprintf(&b, "mode %s\n", ModeFlushAsync)
	}
	if sc.Byzantine {
		fmt.Fprintf(&b, "mode %s\n", ModeByzantine)
	}
	if sc.Duration > 0 {
		fmt.Fprintf(&b, "duration %v\n", sc.Duration)
	}
	for i := range sc.Schedule.Steps {
		st := &sc.Schedule.Steps[i]
		line := fmt.Sprintf("at %v %s", st.At, formatStep(st))
		if note := sc.Notes[i]; note != "" {
			line = fmt.Sprintf("%-60s # %s", line, note)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// stepVerbs name the kinds of steps (for counts and messages; the file's verbs are
// formatStep's).
var stepVerbs = [...]string{"?", "crash", "crash-armed", "crash-on-write", "crash-at-election", "power-loss",
	"pause", "network", "link-rates", "disk-eio", "disk-enospc", "read-corrupt", "corrupt", "clock-jump",
	"shutdown", "leave-down", "crash-at-takeover", "admin", "produce", "fetch", "list-offsets", "add-partition", "join", "leave", "delete-records",
	"offset-commit", "offset-delete", "offset-fetch", "set-credential", "delete-credential", "authenticate", "acl-change", "access", "elect-leaders", "reassign", "drain", "txn-start",
	"txn-crash", "txn-idle", "txn-sloppy"}

// addrName renders a network address: a node id, or cK for client K.
func addrName(a netsim.Addr) string {
	if a >= clientAddrBase {
		return fmt.Sprintf("c%d", a-clientAddrBase)
	}
	return strconv.Itoa(int(a))
}

func addrNames(addrs []netsim.Addr) string {
	names := make([]string, len(addrs))
	for i, a := range addrs {
		names[i] = addrName(a)
	}
	return strings.Join(names, " ")
}

func crashThenName(t crashThen) string {
	switch t {
	case thenNow:
		return "now"
	case thenSync:
		return "sync"
	}
	return ""
}

// formatStep renders a step without its time.
func formatStep(st *Step) string {
	switch st.Kind {
	case StepCrash:
		return fmt.Sprintf("crash %d down=%v", st.Node, st.Down)
	case StepArm:
		s := fmt.Sprintf("crash %d down=%v arm=", st.Node, st.Down)
		switch st.Moment {
		case armDiskOp:
			s += "disk-op"
		case armAnswer:
			s += "answer:" + kmsg.NameForKey(st.Key)
		case armUnsynced:
			s += "before-fsync"
		default:
			s += "election"
		}
		return s + formatStrike(st, st.Moment == armElected)
	case StepCrashOnWrite:
		return fmt.Sprintf("crash %d down=%v on=write nth=%d", st.Node, st.Down, st.Nth) + formatStrike(st, false)
	case StepCrashAtElection:
		return fmt.Sprintf("crash %d down=%v on=election", st.Node, st.Down) + formatStrike(st, true)
	case StepCrashAtTakeover:
		return fmt.Sprintf("crash %d down=%v on=takeover", st.Node, st.Down) + formatStrike(st, false)
	case StepPowerLoss:
		return fmt.Sprintf("power-loss down=%v", st.Down)
	case StepPause:
		return fmt.Sprintf("pause %d for=%v", st.Node, st.For)
	case StepNet:
		f := &st.Net
		switch f.Kind {
		case netsim.FaultIsolate:
			return fmt.Sprintf("isolate %s for=%v", addrName(f.A), st.For)
		case netsim.FaultSplit:
			return fmt.Sprintf("split %s for=%v", addrNames(f.Side), st.For)
		case netsim.FaultCutOneWay:
			return fmt.Sprintf("cut %s->%s for=%v", addrName(f.From), addrName(f.To), st.For)
		case netsim.FaultBridge:
			return fmt.Sprintf("bridge %s <%s> %s for=%v", addrNames(f.Side), addrName(f.A), addrNames(f.Other), st.For)
		case netsim.FaultClog:
			return fmt.Sprintf("clog %s->%s for=%v", addrName(f.From), addrName(f.To), st.For)
		}
		return fmt.Sprintf("network-fault-%d", f.Kind)
	case StepLinkRates:
		return fmt.Sprintf("link-rates for=%v loss-ppm=%d dup-ppm=%d reorder-ppm=%d break-ppm=%d", st.For, st.LossPPM, st.DupPPM, st.ReorderPPM, st.BreakPPM)
	case StepDiskEIO:
		return fmt.Sprintf("disk-eio %d for=%v write-ppm=%d sync-ppm=%d", st.Node, st.For, st.WriteEIOPPM, st.SyncEIOPPM)
	case StepDiskENOSPC:
		return fmt.Sprintf("disk-enospc %d for=%v ppm=%d", st.Node, st.For, st.ENOSPCPPM)
	case StepReadCorrupt:
		return fmt.Sprintf("read-corrupt %d for=%v ppm=%d", st.Node, st.For, st.ReadCorruptPPM)
	case StepCorrupt:
		if st.Lose {
			return fmt.Sprintf("corrupt %d file=%s offset=%d bytes=%d how=lose", st.Node, st.File, st.Offset, st.Bytes)
		}
		return fmt.Sprintf("corrupt %d file=%s offset=%d bytes=%d", st.Node, st.File, st.Offset, st.Bytes)
	case StepClockJump:
		return fmt.Sprintf("clock-jump %d by=%v", st.Node, st.By)
	case StepShutdown:
		return fmt.Sprintf("shutdown %d timeout=%v down=%v", st.Node, st.For, st.Down)
	case StepLeaveDown:
		return "leave-down " + strings.ReplaceAll(joinIDs(st.Nodes), ",", " ")
	}
	c := fmt.Sprintf("client %d ", st.Client)
	tp := fmt.Sprintf("%s/%d", st.Topic, st.Partition)
	switch st.Kind {
	case StepAdmin:
		switch st.OpKind {
		case OpCreate:
			return c + fmt.Sprintf("create-topic %s partitions=%d rf=%d", st.Topic, st.Count, st.RF)
		case OpDelete:
			return c + "delete-topic " + st.Topic
		case OpCreatePartitions:
			return c + fmt.Sprintf("create-partitions %s count=%d", st.Topic, st.Count)
		case OpDescribe:
			return c + "describe " + st.Topic
		case OpListBrokers:
			return c + "list-brokers"
		}
	case StepProduce:
		return c + fmt.Sprintf("produce %s records=%d", tp, st.Records)
	case StepFetch:
		return c + fmt.Sprintf("fetch %s min-bytes=%d", tp, st.MinBytes)
	case StepListOffsets:
		at := "latest"
		switch st.ListAt {
		case -2:
			at = "earliest"
		case -3:
			at = "max-timestamp"
		}
		return c + fmt.Sprintf("list-offsets %s %s", tp, at)
	case StepDeleteRecords:
		return c + fmt.Sprintf("delete-records %s offset=%d", tp, st.Offset)
	case StepAddPartition:
		return c + "add-partition " + st.Topic
	case StepElectLeaders:
		return c + "elect-leaders " + st.Topic
	case StepDrain:
		return c + fmt.Sprintf("drain %d", st.Node)
	case StepReassign:
		if st.Replicas == nil {
			return c + "reassign " + tp + " cancel"
		}
		return c + "reassign " + tp + " replicas=" + joinIDs(st.Replicas)
	case StepJoin:
		return c + "join " + st.Group
	case StepTxnStart:
		return c + "txn-start"
	case StepTxnCrash:
		after := strconv.Itoa(st.After)
		if st.After == txnCrashAtEnd {
			after = "end"
		}
		if st.Zombie {
			return c + "txn-crash after=" + after + " zombie"
		}
		return c + "txn-crash after=" + after
	case StepTxnIdle:
		return c + "txn-idle"
	case StepTxnSloppy:
		return c + fmt.Sprintf("txn-sloppy hold=%v", st.For)
	case StepLeave:
		return c + "leave " + st.Group
	case StepOffsetCommit:
		return c + fmt.Sprintf("offset-commit %s %s offset=%d", st.Group, tp, st.Offset)
	case StepOffsetDelete:
		return c + fmt.Sprintf("offset-delete %s %s partition=%d", st.Group, st.Topic, st.Partition)
	case StepOffsetFetch:
		return c + "offset-fetch " + st.Group
	case StepSetCredential:
		return c + fmt.Sprintf("set-credential %s mechanism=%s password=%s", st.User, st.Mechanism, st.Password)
	case StepDeleteCredential:
		return c + fmt.Sprintf("delete-credential %s mechanism=%s", st.User, st.Mechanism)
	case StepAuthenticate:
		return c + fmt.Sprintf("authenticate %s mechanism=%s password=%s node=%d", st.User, st.Mechanism, st.Password, st.Node)
	case StepAclChange:
		then := ""
		if st.Access != "" {
			then = fmt.Sprintf(" then=%s password=%s then-node=%d", st.Access, st.Password, st.AccessNode)
		}
		return c + fmt.Sprintf("acl-change %s acl=%d delete=%v node=%d%s", st.User, st.Acl, st.Delete, st.Node, then)
	case StepAccess:
		return c + fmt.Sprintf("access %s %s password=%s node=%d", st.User, st.Access, st.Password, st.Node)
	}
	return fmt.Sprintf("step-%d", st.Kind)
}

// formatStrike renders how an armed crash struck.
func formatStrike(st *Step, election bool) string {
	if election {
		switch st.Then {
		case thenSync:
			return " then=sync"
		case thenNow:
			return fmt.Sprintf(" then=now strike=%v", st.Strike)
		}
		return ""
	}
	return fmt.Sprintf(" strike=%v", st.Strike)
}

// ParseScenario reads a scenario file.
func ParseScenario(text string) (*Scenario, error) {
	sc := &Scenario{}
	seedSeen := false
	for i, raw := range strings.Split(text, "\n") {
		line := raw
		if j := strings.Index(line, "#"); j >= 0 && (j == 0 || line[j-1] == ' ' || line[j-1] == '\t') {
			line = line[:j]
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %s: %s", i+1, strings.TrimSpace(line), fmt.Sprintf(format, args...))
		}
		switch words[0] {
		case "seed":
			if len(words) != 2 {
				return nil, fail("want: seed N")
			}
			v, err := strconv.ParseUint(words[1], 10, 64)
			if err != nil {
				return nil, fail("%q is not a seed", words[1])
			}
			sc.Seed, seedSeen = v, true
		case "plants", "plant":
			for _, w := range words[1:] {
				for _, p := range strings.Split(w, ",") {
					if p != "" {
						sc.Plants = append(sc.Plants, p)
					}
				}
			}
		case "mode":
			for _, m := range words[1:] {
				switch m {
				case ModeFlushAsync:
					sc.FlushAsync = true
				case ModeByzantine:
					sc.Byzantine = true
				default:
					return nil, fail("unknown mode %q (want %s or %s)", m, ModeFlushAsync, ModeByzantine)
				}
			}
		case "duration":
			if len(words) != 2 {
				return nil, fail("want: duration D")
			}
			d, err := time.ParseDuration(words[1])
			if err != nil || d <= 0 {
				return nil, fail("%q is not a positive duration", words[1])
			}
			sc.Duration = d
		case "at":
			if len(words) < 3 {
				return nil, fail("want: at TIME STEP")
			}
			at, err := time.ParseDuration(words[1])
			if err != nil || at < 0 {
				return nil, fail("%q is not a time (a duration such as 1.5s)", words[1])
			}
			st, err := parseStep(words[2:])
			if err != nil {
				return nil, fail("%v", err)
			}
			st.At = at
			sc.Schedule.Steps = append(sc.Schedule.Steps, st)
		default:
			return nil, fail("unknown line (want seed, plants, mode, duration or at TIME STEP)")
		}
	}
	if !seedSeen {
		return nil, fmt.Errorf("the scenario names no seed (a line: seed N)")
	}
	sc.Schedule.Sort()
	return sc, nil
}

// stepArgs are a step line's words: key=value pairs and bare words, in order.
type stepArgs struct {
	kv   map[string]string
	bare []string
	err  error
}

func splitArgs(words []string) *stepArgs {
	a := &stepArgs{kv: map[string]string{}}
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok && k != "" && !strings.Contains(k, "/") {
			if _, dup := a.kv[k]; dup && a.err == nil {
				a.err = fmt.Errorf("%s= given twice", k)
			}
			a.kv[k] = v
			continue
		}
		a.bare = append(a.bare, w)
	}
	return a
}

func (a *stepArgs) setErr(err error) {
	if a.err == nil {
		a.err = err
	}
}

func (a *stepArgs) duration(key string, required bool) time.Duration {
	v, ok := a.kv[key]
	delete(a.kv, key)
	if !ok {
		if required {
			a.setErr(fmt.Errorf("%s= is required", key))
		}
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		a.setErr(fmt.Errorf("%s=%q is not a duration", key, v))
	}
	return d
}

func (a *stepArgs) int64(key string, required bool) int64 {
	v, ok := a.kv[key]
	delete(a.kv, key)
	if !ok {
		if required {
			a.setErr(fmt.Errorf("%s= is required", key))
		}
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		a.setErr(fmt.Errorf("%s=%q is not a count", key, v))
	}
	return n
}

func (a *stepArgs) str(key string) (string, bool) {
	v, ok := a.kv[key]
	delete(a.kv, key)
	return v, ok
}

// done reports leftover or missing arguments.
func (a *stepArgs) done(bare int) error {
	if a.err != nil {
		return a.err
	}
	if len(a.bare) != bare {
		return fmt.Errorf("want %d plain argument(s), got %d", bare, len(a.bare))
	}
	for _, k := range sortedKeys(a.kv) {
		return fmt.Errorf("unknown argument %s=", k)
	}
	return nil
}

func parseNode(s string) (int32, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n >= clientAddrBase {
		return 0, fmt.Errorf("%q is not a node id", s)
	}
	return int32(n), nil
}

func parseAddr(s string) (netsim.Addr, error) {
	if c, ok := strings.CutPrefix(s, "c"); ok {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%q is not a client address (cK)", s)
		}
		return netsim.Addr(clientAddrBase + n), nil
	}
	n, err := parseNode(s)
	return netsim.Addr(n), err
}

func parseAddrs(words []string) ([]netsim.Addr, error) {
	var out []netsim.Addr
	for _, w := range words {
		a, err := parseAddr(w)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// parseLink parses A->B.
func parseLink(s string) (netsim.Addr, netsim.Addr, error) {
	from, to, ok := strings.Cut(s, "->")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want FROM->TO", s)
	}
	a, err := parseAddr(from)
	if err != nil {
		return 0, 0, err
	}
	b, err := parseAddr(to)
	return a, b, err
}

// parseStep parses the words of a step after its time.
func parseStep(words []string) (Step, error) {
	verb := words[0]
	if verb == "client" {
		return parseClientStep(words[1:])
	}
	a := splitArgs(words[1:])
	st := Step{}
	bare := 0
	node := func() {
		bare = 1
		if len(a.bare) == 0 {
			a.setErr(fmt.Errorf("want a node"))
			return
		}
		n, err := parseNode(a.bare[0])
		if err != nil {
			a.setErr(err)
		}
		st.Node = n
	}
	var err error
	switch verb {
	case "crash":
		node()
		st.Down = a.duration("down", true)
		st.Kind = StepCrash
		arm, armed := a.str("arm")
		on, isOn := a.str("on")
		switch {
		case armed && isOn:
			return st, fmt.Errorf("a crash is armed (arm=) or on a moment (on=), not both")
		case armed:
			st.Kind = StepArm
			switch {
			case arm == "disk-op":
				st.Moment = armDiskOp
			case arm == "election":
				st.Moment = armElected
			case arm == "before-fsync":
				st.Moment = armUnsynced
			case strings.HasPrefix(arm, "answer:"):
				st.Moment = armAnswer
				name := strings.TrimPrefix(arm, "answer:")
				keys := append(slices.Clone(armedWriteKeys), endTxnKey)
				i := slices.IndexFunc(keys, func(k int16) bool { return kmsg.NameForKey(k) == name })
				if i < 0 {
					return st, fmt.Errorf("arm=answer:%s: want one of Produce, OffsetCommit, CreateTopics, CreatePartitions, SyncGroup, EndTxn", name)
				}
				st.Key = keys[i]
			default:
				return st, fmt.Errorf("arm=%q: want disk-op, before-fsync, answer:API or election", arm)
			}
		case isOn && on == "write":
			st.Kind = StepCrashOnWrite
			st.Nth = int(a.int64("nth", false))
		case isOn && on == "election":
			st.Kind = StepCrashAtElection
		case isOn && on == "takeover":
			st.Kind = StepCrashAtTakeover
		case isOn:
			return st, fmt.Errorf("on=%q: want write, election or takeover", on)
		}
		if st.Kind != StepCrash {
			st.Strike = a.duration("strike", false)
			if then, ok := a.str("then"); ok {
				switch then {
				case "now":
					st.Then = thenNow
				case "sync":
					st.Then = thenSync
				default:
					return st, fmt.Errorf("then=%q: want now or sync", then)
				}
			}
		}
	case "power-loss":
		st.Kind = StepPowerLoss
		st.Down = a.duration("down", true)
	case "pause":
		node()
		st.Kind = StepPause
		st.For = a.duration("for", true)
	case "shutdown":
		node()
		st.Kind = StepShutdown
		st.For = a.duration("timeout", true)
		st.Down = a.duration("down", true)
	case "isolate", "split", "bridge":
		st.Kind = StepNet
		st.For = a.duration("for", true)
		bare = len(a.bare)
		switch verb {
		case "isolate":
			if len(a.bare) != 1 {
				return st, fmt.Errorf("want: isolate ADDR for=D")
			}
			var x netsim.Addr
			x, err = parseAddr(a.bare[0])
			st.Net = netsim.Isolate(x)
		case "split":
			var side []netsim.Addr
			side, err = parseAddrs(a.bare)
			st.Net = netsim.Split(side...)
		default:
			i := slices.IndexFunc(a.bare, func(w string) bool { return strings.HasPrefix(w, "<") && strings.HasSuffix(w, ">") })
			if i < 0 {
				return st, fmt.Errorf("want: bridge A... <B> C... for=D")
			}
			var left, right []netsim.Addr
			var b netsim.Addr
			if left, err = parseAddrs(a.bare[:i]); err == nil {
				if b, err = parseAddr(strings.Trim(a.bare[i], "<>")); err == nil {
					right, err = parseAddrs(a.bare[i+1:])
				}
			}
			st.Net = netsim.Bridge(left, b, right)
		}
	case "cut", "clog":
		st.Kind = StepNet
		st.For = a.duration("for", true)
		bare = 1
		if len(a.bare) != 1 {
			return st, fmt.Errorf("want: %s A->B for=D", verb)
		}
		var from, to netsim.Addr
		from, to, err = parseLink(a.bare[0])
		if verb == "cut" {
			st.Net = netsim.CutOneWay(from, to)
		} else {
			st.Net = netsim.Clog(from, to, 0)
		}
	case "link-rates":
		st.Kind = StepLinkRates
		st.For = a.duration("for", true)
		st.LossPPM = a.int64("loss-ppm", false)
		st.DupPPM = a.int64("dup-ppm", false)
		st.ReorderPPM = a.int64("reorder-ppm", false)
		st.BreakPPM = a.int64("break-ppm", false)
	case "disk-eio":
		node()
		st.Kind = StepDiskEIO
		st.For = a.duration("for", true)
		st.WriteEIOPPM = a.int64("write-ppm", false)
		st.SyncEIOPPM = a.int64("sync-ppm", false)
	case "disk-enospc":
		node()
		st.Kind = StepDiskENOSPC
		st.For = a.duration("for", true)
		st.ENOSPCPPM = a.int64("ppm", true)
	case "read-corrupt":
		node()
		st.Kind = StepReadCorrupt
		st.For = a.duration("for", true)
		st.ReadCorruptPPM = a.int64("ppm", true)
	case "corrupt":
		node()
		st.Kind = StepCorrupt
		file, ok := a.str("file")
		if !ok || file == "" {
			return st, fmt.Errorf("file= is required")
		}
		st.File = file
		st.Offset = a.int64("offset", true)
		st.Bytes = int(a.int64("bytes", true))
		switch how, ok := a.str("how"); {
		case !ok || how == "flip":
		case how == "lose":
			st.Lose = true
		default:
			return st, fmt.Errorf("how=%q is neither flip nor lose", how)
		}
	case "clock-jump":
		node()
		st.Kind = StepClockJump
		st.By = a.duration("by", true)
	case "leave-down":
		st.Kind = StepLeaveDown
		bare = len(a.bare)
		for _, w := range a.bare {
			n, err := parseNode(w)
			if err != nil {
				return st, err
			}
			st.Nodes = append(st.Nodes, n)
		}
	default:
		return st, fmt.Errorf("unknown step %q", verb)
	}
	if err != nil {
		return st, err
	}
	if err := a.done(bare); err != nil {
		return st, err
	}
	if st.Kind == StepNet {
		if err := st.Net.Validate(); err != nil {
			return st, err
		}
	}
	return st, nil
}

// parseTP parses TOPIC/PARTITION.
func parseTP(s string) (string, int32, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return "", 0, fmt.Errorf("%q is not TOPIC/PARTITION", s)
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil || p < 0 {
		return "", 0, fmt.Errorf("%q is not TOPIC/PARTITION", s)
	}
	return s[:i], int32(p), nil
}

// parseClientStep parses "K VERB ARGS" after the word client.
func parseClientStep(words []string) (Step, error) {
	st := Step{}
	if len(words) < 2 {
		return st, fmt.Errorf("want: client K OPERATION ...")
	}
	id, err := strconv.Atoi(words[0])
	if err != nil || id < 1 {
		return st, fmt.Errorf("%q is not a client id", words[0])
	}
	st.Client = int32(id)
	verb := words[1]
	a := splitArgs(words[2:])
	bare := 1
	first := func() string {
		if len(a.bare) == 0 {
			a.setErr(fmt.Errorf("want: client K %s ARGUMENT", verb))
			return ""
		}
		return a.bare[0]
	}
	tp := func() {
		st.Topic, st.Partition, err = parseTP(first())
		if err != nil {
			a.setErr(err)
		}
	}
	switch verb {
	case "create-topic":
		st.Kind, st.OpKind, st.Topic = StepAdmin, OpCreate, first()
		st.Count = int32(a.int64("partitions", true))
		st.RF = int32(a.int64("rf", true))
	case "delete-topic":
		st.Kind, st.OpKind, st.Topic = StepAdmin, OpDelete, first()
	case "create-partitions":
		st.Kind, st.OpKind, st.Topic = StepAdmin, OpCreatePartitions, first()
		st.Count = int32(a.int64("count", true))
	case "describe":
		st.Kind, st.OpKind, st.Topic = StepAdmin, OpDescribe, first()
	case "list-brokers":
		st.Kind, st.OpKind = StepAdmin, OpListBrokers
		bare = 0
	case "produce":
		st.Kind = StepProduce
		tp()
		st.Records = int(a.int64("records", true))
		if st.Records < 1 {
			a.setErr(fmt.Errorf("records= must be at least 1"))
		}
	case "fetch":
		st.Kind = StepFetch
		tp()
		st.MinBytes = 1
		if _, ok := a.kv["min-bytes"]; ok {
			st.MinBytes = int32(a.int64("min-bytes", false))
		}
	case "list-offsets":
		st.Kind = StepListOffsets
		bare = 2
		tp()
		st.ListAt = -1
		if len(a.bare) == 2 {
			switch a.bare[1] {
			case "latest":
			case "earliest":
				st.ListAt = -2
			case "max-timestamp":
				st.ListAt = -3
			default:
				return st, fmt.Errorf("list-offsets: %q: want earliest, latest or max-timestamp", a.bare[1])
			}
		}
	case "delete-records":
		st.Kind = StepDeleteRecords
		tp()
		v, _ := a.str("offset")
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < -1 {
			a.setErr(fmt.Errorf("offset=%q: want an offset, or -1 for the high watermark", v))
		}
		st.Offset = n
	case "add-partition":
		st.Kind, st.Topic = StepAddPartition, first()
	case "elect-leaders":
		st.Kind, st.Topic = StepElectLeaders, first()
	case "drain":
		st.Kind = StepDrain
		n, perr := parseNode(first())
		if perr != nil {
			a.setErr(perr)
		}
		st.Node = n
	case "reassign":
		st.Kind = StepReassign
		tp()
		if v, ok := a.str("replicas"); ok {
			st.Replicas = parseIDs(v, a)
		} else if len(a.bare) == 2 && a.bare[1] == "cancel" {
			bare = 2
		} else {
			a.setErr(fmt.Errorf("reassign: want replicas=ID,ID,... or cancel"))
		}
	case "join":
		st.Kind, st.Group = StepJoin, first()
	case "txn-start":
		st.Kind = StepTxnStart
		bare = 0
	case "txn-crash":
		st.Kind = StepTxnCrash
		v, ok := a.str("after")
		if !ok {
			a.setErr(fmt.Errorf("after= is required"))
		} else if v == "end" {
			st.After = txnCrashAtEnd
		} else if n, perr := strconv.Atoi(v); perr == nil && n >= 0 {
			st.After = n
		} else {
			a.setErr(fmt.Errorf("after=%q: want a count of batches, or end", v))
		}
		bare = len(a.bare)
		if bare > 1 || bare == 1 && a.bare[0] != "zombie" {
			a.setErr(fmt.Errorf("txn-crash: want after=N and at most the word zombie"))
		}
		st.Zombie = bare == 1
	case "txn-idle":
		st.Kind = StepTxnIdle
		bare = 0
	case "txn-sloppy":
		st.Kind = StepTxnSloppy
		st.For = a.duration("hold", true)
		bare = 0
	case "leave":
		st.Kind, st.Group = StepLeave, first()
	case "offset-commit":
		st.Kind, st.Group = StepOffsetCommit, first()
		bare = 2
		if len(a.bare) == 2 {
			if st.Topic, st.Partition, err = parseTP(a.bare[1]); err != nil {
				a.setErr(err)
			}
		}
		st.Offset = a.int64("offset", true)
	case "offset-delete":
		st.Kind, st.Group = StepOffsetDelete, first()
		bare = 2
		if len(a.bare) == 2 {
			st.Topic = a.bare[1]
		}
		v, _ := a.str("partition")
		n, perr := strconv.ParseInt(v, 10, 32)
		if perr != nil || n < -1 {
			a.setErr(fmt.Errorf("partition=%q: want a partition, or -1 for every one", v))
		}
		st.Partition = int32(n)
	case "offset-fetch":
		st.Kind, st.Group = StepOffsetFetch, first()
	case "acl-change":
		st.Kind, st.User = StepAclChange, first()
		st.Acl = int(a.int64("acl", true))
		if st.Acl < 0 || st.Acl >= len(aclUniverse) {
			a.setErr(fmt.Errorf("acl=%d: want 0 to %d", st.Acl, len(aclUniverse)-1))
		}
		d, _ := a.str("delete")
		st.Delete = d == "true"
		st.Node = int32(a.int64("node", true))
		if then, ok := a.str("then"); ok {
			st.Access = then
			st.Password, _ = a.str("password")
			st.AccessNode = int32(a.int64("then-node", true))
		}
	case "access":
		st.Kind, st.User = StepAccess, first()
		bare = 2
		if len(a.bare) == 2 {
			st.Access = a.bare[1]
		}
		st.Password, _ = a.str("password")
		st.Node = int32(a.int64("node", true))
	case "set-credential", "delete-credential", "authenticate":
		st.Kind = map[string]StepKind{"set-credential": StepSetCredential, "delete-credential": StepDeleteCredential,
			"authenticate": StepAuthenticate}[verb]
		st.User = first()
		st.Mechanism, _ = a.str("mechanism")
		if st.Kind != StepDeleteCredential {
			st.Password, _ = a.str("password")
		}
		if st.Kind == StepAuthenticate {
			st.Node = int32(a.int64("node", true))
		}
	default:
		return st, fmt.Errorf("unknown client operation %q", verb)
	}
	return st, a.done(bare)
}

// joinIDs formats broker ids as a comma-separated list.
func joinIDs(ids []int32) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(int(id))
	}
	return strings.Join(out, ",")
}

// parseIDs parses a comma-separated list of broker ids.
func parseIDs(v string, a *stepArgs) []int32 {
	var out []int32
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil || n < 0 {
			a.setErr(fmt.Errorf("replicas=%q: want broker ids separated by commas", v))
			return nil
		}
		out = append(out, int32(n))
	}
	return out
}
