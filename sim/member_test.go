package sim

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Who leads after a join, as franz-go decides it: the member the coordinator names;
// before JoinGroup v9, also a static member that replaced the named leader (the
// coordinator keeps naming the old incarnation, KIP-345); from v9 the coordinator must
// name the new member id and say SkipAssignment (KIP-814).
func TestJoinedAsLeader(t *testing.T) {
	cases := []struct {
		name     string
		instance string
		version  int16
		memberID string
		leaderID string
		want     bool
	}{
		{"named", "", 9, "m-1", "m-1", true},
		{"other member named", "", 9, "m-1", "m-2", false},
		{"static named", "i0", 9, "i0-b", "i0-b", true},
		{"static replaced the leader, v8", "i0", 8, "i0-b", "i0-a", true},
		{"static replaced the leader, v9", "i0", 9, "i0-b", "i0-a", false},
		{"static, another instance leads", "i0", 8, "i0-b", "i01-a", false},
		{"dynamic with a look-alike id", "", 8, "i0-b", "i0-a", false},
	}
	for _, tc := range cases {
		m := &member{instance: tc.instance}
		r := kmsg.NewPtrJoinGroupResponse()
		r.SetVersion(tc.version)
		r.MemberID, r.LeaderID = tc.memberID, tc.leaderID
		if got := m.joinedAsLeader(r); got != tc.want {
			t.Errorf("%s: leads %v, want %v", tc.name, got, tc.want)
		}
	}
}
