package sim

import (
	"testing"
	"time"
)

// The credentials model accepts what a linearizable cluster may answer and refuses an
// authentication that only a stale credential explains.
func TestCredentialsModel(t *testing.T) {
	ms := int64(time.Millisecond)
	op := func(id int, kind OpKind, mech, pw string, call, ret int64, out Outcome, code int16) *Op {
		return &Op{ID: id, Client: 1, Kind: kind, User: "u", Mechanism: mech, Password: pw, Call: call * ms, Return: ret * ms, Outcome: out, Code: code}
	}
	const s256, s512, plain = "SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"
	cases := []struct {
		name  string
		ops   []*Op
		legal bool
	}{
		{"set then authenticate", []*Op{
			op(1, OpSetCredential, s256, "a", 0, 10, OK, 0),
			op(2, OpAuthenticate, s256, "a", 20, 30, OK, 0),
			op(3, OpAuthenticate, plain, "a", 20, 30, OK, 0),
			op(4, OpAuthenticate, s512, "a", 40, 50, Failed, errSaslAuthenticationFailed),
		}, true},
		{"old password after a change was acknowledged", []*Op{
			op(1, OpSetCredential, s256, "a", 0, 10, OK, 0),
			op(2, OpSetCredential, s256, "b", 20, 30, OK, 0),
			op(3, OpAuthenticate, s256, "a", 40, 50, OK, 0),
		}, false},
		{"old password while the change is under way", []*Op{
			op(1, OpSetCredential, s256, "a", 0, 10, OK, 0),
			op(2, OpSetCredential, s256, "b", 20, 60, OK, 0),
			op(3, OpAuthenticate, s256, "a", 30, 50, OK, 0),
		}, true},
		{"new password refused after the change was acknowledged", []*Op{
			op(1, OpSetCredential, s512, "a", 0, 10, OK, 0),
			op(2, OpAuthenticate, s512, "a", 20, 30, Failed, errSaslAuthenticationFailed),
		}, false},
		{"removed credential authenticates", []*Op{
			op(1, OpSetCredential, s512, "a", 0, 10, OK, 0),
			op(2, OpDeleteCredential, s512, "", 20, 30, OK, 0),
			op(3, OpAuthenticate, plain, "a", 40, 50, OK, 0),
		}, false},
		{"an indeterminate change may have applied", []*Op{
			op(1, OpSetCredential, s256, "a", 0, Never/ms, Indeterminate, 0),
			op(2, OpAuthenticate, s256, "a", 20, 30, OK, 0),
			op(3, OpAuthenticate, s256, "a", 40, 50, OK, 0),
		}, true},
		{"removal of what is not there", []*Op{
			op(1, OpDeleteCredential, s256, "", 0, 10, Failed, errResourceNotFound),
		}, true},
		{"removal refused while the credential exists", []*Op{
			op(1, OpSetCredential, s256, "a", 0, 10, OK, 0),
			op(2, OpDeleteCredential, s256, "", 20, 30, Failed, errResourceNotFound),
		}, false},
	}
	for _, tc := range cases {
		for _, o := range tc.ops {
			if o.Return == Never/ms*ms {
				o.Return = Never
			}
		}
		illegal, _, unknown := CheckCredentials(tc.ops, 5*time.Second)
		if len(unknown) > 0 || (illegal == "") != tc.legal {
			t.Errorf("%s: illegal user %q, unknown %v; want legal %v", tc.name, illegal, unknown, tc.legal)
		}
	}
}
