package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// expect checks one expectation; see the package documentation for the forms.
func (r *runner) expect(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("want: expect WHAT [OP VALUE]")
	}
	v := r.w.View()
	switch args[0] {
	case "leader":
		leader, ok := v.QuorumLeader()
		if len(args) == 1 {
			if !ok {
				return fmt.Errorf("expectation failed: the quorum has no leader")
			}
			return nil
		}
		if len(args) != 3 {
			return fmt.Errorf("want: expect leader [== N | != N]")
		}
		if !ok {
			return fmt.Errorf("expectation failed: the quorum has no leader")
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
	case "epoch":
		if len(args) != 3 {
			return fmt.Errorf("want: expect epoch OP N")
		}
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
		if len(args) != 3 {
			return fmt.Errorf("want: expect note NODE KIND")
		}
		ids, err := r.nodeList(args[1:2])
		if err != nil {
			return err
		}
		if v.Notes(ids[0])[args[2]] == 0 {
			return fmt.Errorf("expectation failed: node %d emitted no %s note", ids[0], args[2])
		}
		return nil
	case "fenced", "unfenced":
		return r.expectFenced(args)
	case "leader-of":
		return r.expectPartitionLeader(args)
	case "isr":
		return r.expectISR(args)
	case "last":
		if len(args) < 3 || (args[1] != "==" && args[1] != "!=") {
			return fmt.Errorf("want: expect last == RESULT")
		}
		want := strings.Join(args[2:], " ")
		if (r.last == want) != (args[1] == "==") {
			return fmt.Errorf("expectation failed: the last operation gave %q", r.last)
		}
		return nil
	}
	return fmt.Errorf("cannot expect %q (leader, epoch, role, note, fenced, unfenced, leader-of, isr, last)", args[0])
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
	leader, err := r.partitionLeader(args[1])
	if err != nil {
		return fmt.Errorf("expectation failed: %v", err)
	}
	if (leader == ids[0]) != (args[2] == "==") {
		return fmt.Errorf("expectation failed: %s is led by node %d", args[1], leader)
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
		return fmt.Errorf("want: expect %s BROKER", args[0])
	}
	ids, err := r.nodeList(args[1:])
	if err != nil {
		return err
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
	for _, b := range md.Brokers {
		if b.ID == ids[0] {
			if b.Fenced != (args[0] == "fenced") {
				return fmt.Errorf("expectation failed: broker %d fenced=%v", b.ID, b.Fenced)
			}
			return nil
		}
	}
	return fmt.Errorf("expectation failed: broker %d is not registered", ids[0])
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
