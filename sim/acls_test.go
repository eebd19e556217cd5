package sim

import (
	"testing"
	"time"
)

// The ACL model: an access must get the decision the bindings in force at some moment
// of it give; a removal acknowledged before an access began refuses it.
func TestAclModel(t *testing.T) {
	ms := int64(time.Millisecond)
	change := func(id, acl int, del bool, call, ret int64, out Outcome) *Op {
		return &Op{ID: id, Client: 1, Kind: OpAclChange, User: "u", Acl: acl, Delete: del, Call: call * ms, Return: ret * ms, Outcome: out}
	}
	access := func(id int, what string, call, ret int64, allowed bool) *Op {
		op := &Op{ID: id, Client: 1, Kind: OpAccess, User: "u", Access: what, Call: call * ms, Return: ret * ms, Outcome: OK}
		if !allowed {
			op.Outcome, op.Code = Failed, errTopicAuthorizationFailed
		}
		return op
	}
	cases := []struct {
		name  string
		ops   []*Op
		legal bool
	}{
		{"nothing allowed without bindings", []*Op{access(1, "list-offsets", 0, 10, false)}, true},
		{"allowed without bindings", []*Op{access(1, "list-offsets", 0, 10, true)}, false},
		{"read implies describe", []*Op{change(1, 1, false, 0, 10, OK), access(2, "metadata", 20, 30, true)}, true},
		{"deny wins", []*Op{change(1, 4, false, 0, 10, OK), change(2, 2, false, 20, 30, OK), access(3, "fetch", 40, 50, true)}, false},
		{"removed before the access", []*Op{change(1, 0, false, 0, 10, OK), change(2, 0, true, 20, 30, OK), access(3, "list-offsets", 40, 50, true)}, false},
		{"removal under way", []*Op{change(1, 0, false, 0, 10, OK), change(2, 0, true, 20, 60, OK), access(3, "list-offsets", 30, 50, true)}, true},
		{"an indeterminate grant may have applied", []*Op{change(1, 3, false, 0, Never/ms, Indeterminate), access(2, "find-coordinator", 20, 30, true)}, true},
	}
	for _, tc := range cases {
		for _, o := range tc.ops {
			if o.Return == Never/ms*ms {
				o.Return = Never
			}
		}
		illegal, _, unknown := CheckAcls(tc.ops, 5*time.Second)
		if len(unknown) > 0 || (illegal == "") != tc.legal {
			t.Errorf("%s: illegal %q, unknown %v; want legal %v", tc.name, illegal, unknown, tc.legal)
		}
	}
}
