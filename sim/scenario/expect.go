package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seedlog/seedlog/sim"
)

// expect checks one expectation; see the package documentation for the forms.
func (r *runner) expect(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("want: expect WHAT [OP VALUE]")
	}
	v := r.w.View()
	switch args[0] {
	case "leader":
		return r.expectLeader(args)
	case "epoch":
		if len(args) == 3 {
			want, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not an epoch", args[2])
			}
			epoch := int64(-1)
			for _, id := range r.w.Config().Voters() {
				if st, ok := v.Quorum(id); ok {
					epoch = max(epoch, int64(st.Epoch))
				}
			}
			return compare("epoch", epoch, args[1], want)
		}
		return r.expectQuorumValue(args)
	case "hw", "vote", "log-start", "log-end":
		return r.expectQuorumValue(args)
	case "follows":
		return r.expectFollows(args)
	case "role":
		if len(args) != 4 || (args[2] != "==" && args[2] != "!=") {
			return fmt.Errorf("want: expect role NODE == ROLE")
		}
		ids, err := r.nodeList(args[1:2])
		if err != nil {
			return err
		}
		role := "down"
		if st, ok := v.Quorum(ids[0]); ok {
			role = st.Role
		}
		if (role == args[3]) != (args[2] == "==") {
			return fmt.Errorf("expectation failed: node %d is %s", ids[0], role)
		}
		return nil
	case "note":
		if len(args) != 3 && len(args) != 5 {
			return fmt.Errorf("want: expect note NODE KIND [OP COUNT]")
		}
		ids, err := r.nodeList(args[1:2])
		if err != nil {
			return err
		}
		got := v.Notes(ids[0])[args[2]]
		if len(args) == 3 {
			if got == 0 {
				return fmt.Errorf("expectation failed: node %d emitted no %s note", ids[0], args[2])
			}
			return nil
		}
		want, err := strconv.ParseInt(args[4], 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a count", args[4])
		}
		return compare(fmt.Sprintf("the count of node %d's %s notes", ids[0], args[2]), got, args[3], want)
	case "fenced", "unfenced":
		return r.expectFenced(args)
	case "metadata":
		return r.expectMetadata(args)
	case "leader-of":
		return r.expectPartitionLeader(args)
	case "leader-in-isr":
		return r.expectLeaderInISR(args)
	case "isr":
		return r.expectISR(args)
	case "durable":
		return r.expectDurable(args)
	case "last":
		if len(args) < 3 || (args[1] != "==" && args[1] != "!=") {
			return fmt.Errorf("want: expect last == RESULT")
		}
		want := strings.Join(args[2:], " ")
		if (r.last == want) != (args[1] == "==") {
			return fmt.Errorf("expectation failed: the last operation gave %q", r.last)
		}
		return nil
	case "took":
		if len(args) != 3 {
			return fmt.Errorf("want: expect took <= DURATION")
		}
		want, err := parseDuration(args[2])
		if err != nil {
			return err
		}
		if err := compare("took", int64(r.took), args[1], int64(want)); err != nil {
			return fmt.Errorf("expectation failed: the last produce or fetch took %v", r.took)
		}
		return nil
	}
	return fmt.Errorf("cannot expect %q (leader, epoch, hw, vote, log-start, log-end, follows, role, note, fenced, unfenced, metadata, leader-of, leader-in-isr, isr, durable, last, took)", args[0])
}

// expectLeader checks "leader", "leader == N", "leader != N", "leader == none".
func (r *runner) expectLeader(args []string) error {
	leader, ok := r.w.View().QuorumLeader()
	if len(args) == 3 && args[2] == "none" {
		if ok == (args[1] == "==") {
			if ok {
				return fmt.Errorf("expectation failed: node %d leads the quorum", leader)
			}
			return fmt.Errorf("expectation failed: the quorum has no leader")
		}
		return nil
	}
	if len(args) != 1 && len(args) != 3 {
		return fmt.Errorf("want: expect leader [== N | != N | == none]")
	}
	if !ok {
		return fmt.Errorf("expectation failed: the quorum has no leader")
	}
	if len(args) == 1 {
		return nil
	}
	want := int32(-1)
	if args[2] == "old-leader" {
		want = r.oldLeader
	} else if n, err := strconv.Atoi(args[2]); err == nil {
		want = int32(n)
	} else {
		return fmt.Errorf("%q is not a node", args[2])
	}
	return compare("leader", int64(leader), args[1], int64(want))
}

// quorumValues are the values of a node's quorum state an expectation compares.
var quorumValues = map[string]func(sim.QuorumStatus) int64{
	"epoch":     func(st sim.QuorumStatus) int64 { return int64(st.Epoch) },
	"hw":        func(st sim.QuorumStatus) int64 { return st.HW },
	"vote":      func(st sim.QuorumStatus) int64 { return int64(st.VotedFor) },
	"log-start": func(st sim.QuorumStatus) int64 { return st.StartOffset },
	"log-end":   func(st sim.QuorumStatus) int64 { return st.EndOffset },
}

// expectQuorumValue checks "WHAT NODE|all OP N|NODE" for a value of the quorum status,
// or "WHAT NODE OP OTHER NODE2" against another value of it.
func (r *runner) expectQuorumValue(args []string) error {
	if len(args) != 4 && len(args) != 5 {
		return fmt.Errorf("want: expect %s NODE|all OP N|NODE (or OP VALUE NODE)", args[0])
	}
	valueOf := func(what string) func(int32) (int64, error) {
		return func(id int32) (int64, error) {
			st, ok := r.w.View().Quorum(id)
			if !ok {
				return 0, fmt.Errorf("expectation failed: node %d is down or has no quorum state", id)
			}
			return quorumValues[what](st), nil
		}
	}
	other := valueOf(args[0])
	if len(args) == 5 {
		if quorumValues[args[3]] == nil {
			return fmt.Errorf("cannot compare with %q (epoch, hw, vote, log-start, log-end)", args[3])
		}
		other, args = valueOf(args[3]), append(args[:3:3], args[4])
	}
	return r.compareNodes(args, r.upVoters, valueOf(args[0]), other)
}

// compareNodes checks "WHAT NODE|all OP N|NODE": the value of a node (or of each of
// all()) against a number or another node's value (by other).
func (r *runner) compareNodes(args []string, all func() []int32, of, other func(int32) (int64, error)) error {
	var subjects []int32
	if args[1] == "all" {
		subjects = all()
	} else {
		ids, err := r.nodeList(args[1:2])
		if err != nil {
			return err
		}
		subjects = ids
	}
	var want int64
	if n, err := strconv.ParseInt(args[3], 10, 64); err == nil {
		want = n
	} else {
		ids, err := r.nodeList(args[3:4])
		if err != nil {
			return err
		}
		if want, err = other(ids[0]); err != nil {
			return err
		}
	}
	for _, id := range subjects {
		got, err := of(id)
		if err != nil {
			return err
		}
		if err := compare(fmt.Sprintf("node %d's %s", id, args[0]), got, args[2], want); err != nil {
			return err
		}
	}
	return nil
}

// upVoters lists the voters that are up.
func (r *runner) upVoters() []int32 {
	var out []int32
	for _, id := range r.w.Config().Voters() {
		if r.w.View().Up(id) {
			out = append(out, id)
		}
	}
	return out
}

// upNodes lists the nodes that are up.
func (r *runner) upNodes() []int32 {
	var out []int32
	for _, n := range r.w.Config().Nodes {
		if r.w.View().Up(n.ID) {
			out = append(out, n.ID)
		}
	}
	return out
}

// expectFollows checks "follows NODE|all": the node (every node up but the leader)
// knows the quorum leader and acts in its epoch, as a follower or an observer.
func (r *runner) expectFollows(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want: expect follows NODE|all")
	}
	v := r.w.View()
	leader, ok := v.QuorumLeader()
	if !ok {
		return fmt.Errorf("expectation failed: the quorum has no leader")
	}
	lst, _ := v.Quorum(leader)
	var ids []int32
	if args[1] == "all" {
		for _, id := range r.upNodes() {
			if id != leader {
				ids = append(ids, id)
			}
		}
	} else {
		var err error
		if ids, err = r.nodeList(args[1:]); err != nil {
			return err
		}
	}
	for _, id := range ids {
		st, ok := v.Quorum(id)
		if !ok {
			return fmt.Errorf("expectation failed: node %d is down or has no quorum state", id)
		}
		if (st.Role != "follower" && st.Role != "observer") || st.LeaderID != leader || st.ActingEpoch != lst.ActingEpoch {
			return fmt.Errorf("expectation failed: node %d is %s in epoch %d with leader %d, not following node %d in epoch %d",
				id, st.Role, st.ActingEpoch, st.LeaderID, leader, lst.ActingEpoch)
		}
	}
	return nil
}

// expectMetadata checks "metadata NODE|all OP N|NODE": the offset of a node's metadata
// image.
func (r *runner) expectMetadata(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("want: expect metadata NODE|all OP N|NODE")
	}
	of := func(id int32) (int64, error) {
		md, ok := r.w.View().Metadata(id)
		if !ok {
			return 0, fmt.Errorf("expectation failed: node %d is down or has no metadata image", id)
		}
		return md.Offset, nil
	}
	return r.compareNodes(args, r.upNodes, of, of)
}

// partitions expands T/P, or T/* for every partition of T in the quorum leader's image.
func (r *runner) partitions(s string) ([]string, error) {
	topic, p, ok := strings.Cut(s, "/")
	if !ok || p != "*" {
		return []string{s}, nil
	}
	v := r.w.View()
	seer, ok := v.QuorumLeader()
	if !ok {
		return nil, fmt.Errorf("the quorum has no leader to ask for the partitions of %s", topic)
	}
	md, _ := v.Metadata(seer)
	for _, t := range md.Topics {
		if t.Name == topic {
			var out []string
			for i := range t.Leaders {
				out = append(out, fmt.Sprintf("%s/%d", topic, i))
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("expectation failed: no topic %s", topic)
}

// expectLeaderInISR checks "leader-in-isr T/P" (or T/*): a leader, in the ISR, in the
// quorum leader's image.
func (r *runner) expectLeaderInISR(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want: expect leader-in-isr TOPIC/PARTITION (or TOPIC/*)")
	}
	tps, err := r.partitions(args[1])
	if err != nil {
		return err
	}
	for _, tp := range tps {
		leader, err := r.partitionLeader(tp)
		if err != nil {
			return fmt.Errorf("expectation failed: %v", err)
		}
		isr, err := r.partitionISR(tp)
		if err != nil {
			return err
		}
		if !slices.Contains(isr, leader) {
			return fmt.Errorf("expectation failed: %s is led by node %d, outside its ISR %v", tp, leader, isr)
		}
	}
	return nil
}

// expectDurable checks "durable T/P NODE|isr OP N": the durable offset of the
// partition's replica on a node, or on every member of its ISR.
func (r *runner) expectDurable(args []string) error {
	if len(args) != 5 {
		return fmt.Errorf("want: expect durable TOPIC/PARTITION NODE|isr OP OFFSET")
	}
	tp, err := parsePartition(args[1])
	if err != nil {
		return err
	}
	want, err := strconv.ParseInt(args[4], 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not an offset", args[4])
	}
	var ids []int32
	if args[2] == "isr" {
		if ids, err = r.partitionISR(args[1]); err != nil {
			return err
		}
	} else if ids, err = r.nodeList(args[2:3]); err != nil {
		return err
	}
	for _, id := range ids {
		i := slices.IndexFunc(r.w.View().Replicas(id), func(rv sim.ReplicaView) bool {
			return rv.Topic == tp.Topic && rv.Partition == tp.Partition
		})
		if i < 0 {
			return fmt.Errorf("expectation failed: node %d holds no replica of %s (or is down)", id, args[1])
		}
		got := r.w.View().Replicas(id)[i].Durable
		if err := compare(fmt.Sprintf("the durable offset of %s on node %d", args[1], id), got, args[3], want); err != nil {
			return err
		}
	}
	return nil
}

// expectPartitionLeader checks "leader-of T/P == NODE" (or !=) in the quorum leader's
// image; a partition without a leader fails either way.
func (r *runner) expectPartitionLeader(args []string) error {
	if len(args) != 4 || (args[2] != "==" && args[2] != "!=") {
		return fmt.Errorf("want: expect leader-of TOPIC/PARTITION == NODE (or !=)")
	}
	ids, err := r.nodeList(args[3:])
	if err != nil {
		return err
	}
	tps, err := r.partitions(args[1])
	if err != nil {
		return err
	}
	for _, tp := range tps {
		leader, err := r.partitionLeader(tp)
		if err != nil {
			return fmt.Errorf("expectation failed: %v", err)
		}
		if (leader == ids[0]) != (args[2] == "==") {
			return fmt.Errorf("expectation failed: %s is led by node %d", tp, leader)
		}
	}
	return nil
}

// expectISR checks "isr T/P contains NODE" (or lacks) in the quorum leader's image.
func (r *runner) expectISR(args []string) error {
	if len(args) != 4 || (args[2] != "contains" && args[2] != "lacks") {
		return fmt.Errorf("want: expect isr TOPIC/PARTITION contains NODE (or lacks)")
	}
	ids, err := r.nodeList(args[3:])
	if err != nil {
		return err
	}
	isr, err := r.partitionISR(args[1])
	if err != nil {
		return err
	}
	if slices.Contains(isr, ids[0]) != (args[2] == "contains") {
		return fmt.Errorf("expectation failed: the ISR of %s is %v", args[1], isr)
	}
	return nil
}

func (r *runner) expectFenced(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want: expect %s BROKER|all", args[0])
	}
	var ids []int32
	if args[1] == "all" {
		ids = r.w.Config().Brokers()
	} else {
		var err error
		if ids, err = r.nodeList(args[1:]); err != nil {
			return err
		}
	}
	v := r.w.View()
	seer, ok := v.QuorumLeader()
	if !ok {
		return fmt.Errorf("expectation failed: no quorum leader to ask")
	}
	md, ok := v.Metadata(seer)
	if !ok {
		return fmt.Errorf("node %d exposes no metadata", seer)
	}
	for _, id := range ids {
		i := slices.IndexFunc(md.Brokers, func(b sim.BrokerView) bool { return b.ID == id })
		if i < 0 {
			return fmt.Errorf("expectation failed: broker %d is not registered", id)
		}
		if b := md.Brokers[i]; b.Fenced != (args[0] == "fenced") {
			return fmt.Errorf("expectation failed: broker %d fenced=%v", b.ID, b.Fenced)
		}
	}
	return nil
}

// compare checks got OP want.
func compare(what string, got int64, op string, want int64) error {
	var ok bool
	switch op {
	case "==":
		ok = got == want
	case "!=":
		ok = got != want
	case "<":
		ok = got < want
	case "<=":
		ok = got <= want
	case ">":
		ok = got > want
	case ">=":
		ok = got >= want
	default:
		return fmt.Errorf("unknown comparison %q", op)
	}
	if !ok {
		return fmt.Errorf("expectation failed: %s is %d", what, got)
	}
	return nil
}
