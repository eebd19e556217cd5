package sim

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/sasl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ACLs in the simulator (DataConfig.Authorizer): the nodes authorize, with the anonymous
// principal of every other client as super user, so the rest of the workload runs as
// before. The credentials client creates and removes bindings of a small universe for
// its users, and tries accesses as them over the SASL listener: a ListOffsets, a Fetch
// and a Metadata request of topic d0 and a FindCoordinator of group acl-g. Each access
// is one operation: OK when the node let it through, Failed with the authorization
// code when it refused, left out when the answer says neither (a retriable code). The
// checker (CheckAcls) requires every answer to be the one the bindings in force at some
// moment of the operation give: a principal that lost access is refused from the moment
// the removal was acknowledged.

// aclTopic and aclGroup are the resources the accesses touch.
const (
	aclTopic = "d0"
	aclGroup = "acl-g"
)

// aclTemplate is one binding of the universe, for a user named later.
type aclTemplate struct {
	res  acl.Resource
	op   acl.Operation
	perm acl.Permission
	text string
}

// aclUniverse are the bindings the client creates and removes.
var aclUniverse = []aclTemplate{
	{acl.Resource{Type: acl.ResourceTopic, Name: aclTopic, Pattern: acl.PatternLiteral}, acl.OpDescribe, acl.PermissionAllow, "allow describe topic d0"},
	{acl.Resource{Type: acl.ResourceTopic, Name: "d", Pattern: acl.PatternPrefixed}, acl.OpRead, acl.PermissionAllow, "allow read topics d*"},
	{acl.Resource{Type: acl.ResourceTopic, Name: aclTopic, Pattern: acl.PatternLiteral}, acl.OpAll, acl.PermissionDeny, "deny all topic d0"},
	{acl.Resource{Type: acl.ResourceGroup, Name: aclGroup, Pattern: acl.PatternLiteral}, acl.OpDescribe, acl.PermissionAllow, "allow describe group acl-g"},
	{acl.Resource{Type: acl.ResourceTopic, Name: acl.Wildcard, Pattern: acl.PatternLiteral}, acl.OpAll, acl.PermissionAllow, "allow all topics"},
	{acl.Resource{Type: acl.ResourceGroup, Name: "acl", Pattern: acl.PatternPrefixed}, acl.OpDescribe, acl.PermissionDeny, "deny describe groups acl*"},
}

func (t aclTemplate) binding(user string) acl.Binding {
	return acl.Binding{Resource: t.res, Entry: acl.Entry{Principal: "User:" + user, Host: acl.Wildcard, Operation: t.op, Permission: t.perm}}
}

// aclAccess is one kind of access: what it asks of the authorizer.
type aclAccess struct {
	name string
	op   acl.Operation
	typ  acl.ResourceType
	res  string
}

var aclAccesses = []aclAccess{
	{"list-offsets", acl.OpDescribe, acl.ResourceTopic, aclTopic},
	{"fetch", acl.OpRead, acl.ResourceTopic, aclTopic},
	{"metadata", acl.OpDescribe, acl.ResourceTopic, aclTopic},
	{"find-coordinator", acl.OpDescribe, acl.ResourceGroup, aclGroup},
}

func accessNamed(name string) (aclAccess, bool) {
	for _, a := range aclAccesses {
		if a.name == name {
			return a, true
		}
	}
	return aclAccess{}, false
}

// superUsers are the nodes' super.users: the anonymous principal, when they authorize.
func superUsers(authorize bool) []string {
	if !authorize {
		return nil
	}
	return []string{acl.Anonymous}
}

// drawAcl picks an ACL change or an access, for the credentials client.
func (cr *credentials) drawAcl(user string) Step {
	c := cr.c
	rng := c.rng
	known := cr.passwords[user+" "+sasl.NameScramSHA512]
	if rng.IntN(3) == 0 {
		st := Step{Kind: StepAclChange, Client: c.id, User: user, Acl: rng.IntN(len(aclUniverse)), Delete: rng.IntN(2) == 0, Node: c.adminTarget()}
		if len(known) > 0 {
			// Then an access of the user right after the answer.
			a := cr.drawAccess(user)
			st.Access, st.AccessNode, st.Password = a.Access, a.Node, a.Password
		}
		return st
	}
	if len(known) == 0 {
		// Accesses authenticate with SCRAM-SHA-512: give the user a password first.
		cr.next++
		return Step{Kind: StepSetCredential, Client: c.id, User: user, Mechanism: sasl.NameScramSHA512, Password: fmt.Sprintf("pw%d", cr.next)}
	}
	return cr.drawAccess(user)
}

// drawAccess picks an access of user, authenticating with its latest SCRAM-SHA-512
// password.
func (cr *credentials) drawAccess(user string) Step {
	c := cr.c
	st := Step{Kind: StepAccess, Client: c.id, User: user, Access: aclAccesses[c.rng.IntN(len(aclAccesses))].name,
		Node: c.randomBroker()}
	if known := cr.passwords[user+" "+sasl.NameScramSHA512]; len(known) > 0 {
		st.Password = known[len(known)-1]
	}
	if st.Access == "list-offsets" || st.Access == "fetch" {
		// Only the partition's leader decides these.
		if leader, _, ok := c.leaderOf(TopicPartition{aclTopic, 0}); ok {
			st.Node = leader
		} else {
			c.refreshTopics(nil)
		}
	}
	return st
}

// changeAcl creates or removes a binding, as the super user on the first listener;
// done learns whether the change was acknowledged.
func (cr *credentials) changeAcl(op *Op, node int32, done func(changed bool)) {
	c := cr.c
	w := c.w
	b := aclUniverse[op.Acl].binding(op.User)
	var req kmsg.Request
	if op.Delete {
		r := kmsg.NewPtrDeleteACLsRequest()
		name, principal, host := b.Name, b.Principal, b.Host
		r.Filters = []kmsg.DeleteACLsRequestFilter{{ResourceType: kmsg.ACLResourceType(b.Type), ResourceName: &name,
			ResourcePatternType: kmsg.ACLResourcePatternType(b.Pattern), Principal: &principal, Host: &host,
			Operation: kmsg.ACLOperation(b.Operation), PermissionType: kmsg.ACLPermissionType(b.Permission)}}
		req = r
	} else {
		r := kmsg.NewPtrCreateACLsRequest()
		r.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: kmsg.ACLResourceType(b.Type), ResourceName: b.Name,
			ResourcePatternType: kmsg.ACLResourcePatternType(b.Pattern), Principal: b.Principal, Host: b.Host,
			Operation: kmsg.ACLOperation(b.Operation), PermissionType: kmsg.ACLPermissionType(b.Permission)}}
		req = r
	}
	w.invoke(c, op)
	op.Node = node
	// Versions 0 of the ACL APIs have no pattern type (literal only).
	c.sendLimited(node, req, 1, 3, w.requestTimeout(), func(resp kmsg.Response, err error) {
		switch {
		case errors.Is(err, errNotSent):
			op.Code = -1
			w.complete(op, Failed)
			done(false)
			return
		case err != nil:
			w.complete(op, Indeterminate)
			done(false)
			return
		}
		var code int16
		switch r := resp.(type) {
		case *kmsg.CreateACLsResponse:
			code = r.Results[0].ErrorCode
		case *kmsg.DeleteACLsResponse:
			code = r.Results[0].ErrorCode
		}
		if op.Code = code; code != errNone {
			// NOT_CONTROLLER, REQUEST_TIMED_OUT: the change may have committed.
			w.complete(op, Indeterminate)
			done(false)
			return
		}
		w.cov.Inc("acl:changed")
		w.complete(op, OK)
		done(true)
	})
}

// access authenticates as the op's user on a new connection and tries its access.
func (cr *credentials) access(op *Op, node int32, done func()) {
	c := cr.c
	w := c.w
	a, ok := accessNamed(op.Access)
	if !ok {
		w.fail("client", -1, "client %d: unknown access %q", c.id, op.Access)
		return
	}
	w.invoke(c, op)
	op.Node = node
	end := func(outcome Outcome, code int16) {
		op.Code = code
		w.complete(op, outcome)
		done()
	}
	try := func() {
		req, lo, hi := accessRequest(a)
		cr.sasl.sendLimited(node, req, lo, hi, w.requestTimeout(), func(resp kmsg.Response, err error) {
			if err != nil {
				end(Failed, -1)
				return
			}
			switch code := accessCode(resp); {
			case code == errTopicAuthorizationFailed || code == errGroupAuthorizationFailed:
				w.cov.Inc("acl:denied")
				end(Failed, code)
			case accessAllowed(a, code):
				w.cov.Inc("acl:allowed")
				end(OK, code)
			default:
				w.cov.Inc("acl:undecided-" + errorName(code))
				if code == errNotLeaderOrFollower || code == errUnknownTopicOrPartition {
					c.refreshTopics(nil)
				}
				end(Failed, -1) // says neither: left out
			}
		})
	}
	if cc := cr.sasl.conns[node-1]; cc != nil && !cc.dead && cr.authed[node-1] == op.User {
		w.cov.Inc("acl:access-on-open-connection")
		try()
		return
	}
	cr.exchange(node, op.User, sasl.NameScramSHA512, op.Password, false, func(outcome Outcome, code int16) {
		if outcome != OK {
			cr.hangUp(node)
			end(Failed, -1) // not authenticated: the access was never tried
			return
		}
		cr.authed[node-1] = op.User
		try()
	})
}

// accessRequest builds an access's request and the versions it may go at.
func accessRequest(a aclAccess) (kmsg.Request, int16, int16) {
	switch a.name {
	case "list-offsets":
		r := kmsg.NewPtrListOffsetsRequest()
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = aclTopic
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Timestamp = -1
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		return r, 1, 8
	case "fetch":
		r := kmsg.NewPtrFetchRequest()
		r.ReplicaID = -1
		r.MaxBytes, r.MinBytes = 1<<20, 0
		t := kmsg.NewFetchRequestTopic()
		t.Topic = aclTopic
		p := kmsg.NewFetchRequestTopicPartition()
		p.PartitionMaxBytes, p.CurrentLeaderEpoch = 1<<16, -1
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		return r, 4, 12 // topics by name
	case "metadata":
		r := kmsg.NewPtrMetadataRequest()
		name := aclTopic
		r.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
		return r, 1, 12
	}
	r := kmsg.NewPtrFindCoordinatorRequest()
	r.CoordinatorKey = aclGroup
	r.CoordinatorKeys = []string{aclGroup}
	return r, 0, 5
}

// accessCode is the error code an access's answer carries for its one resource.
func accessCode(resp kmsg.Response) int16 {
	switch r := resp.(type) {
	case *kmsg.ListOffsetsResponse:
		if len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
			return r.Topics[0].Partitions[0].ErrorCode
		}
	case *kmsg.FetchResponse:
		if r.ErrorCode != 0 {
			return r.ErrorCode
		}
		if len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
			return r.Topics[0].Partitions[0].ErrorCode
		}
	case *kmsg.MetadataResponse:
		if len(r.Topics) == 1 {
			return r.Topics[0].ErrorCode
		}
	case *kmsg.FindCoordinatorResponse:
		if r.GetVersion() >= 4 {
			if len(r.Coordinators) == 1 {
				return r.Coordinators[0].ErrorCode
			}
			return -1
		}
		return r.ErrorCode
	}
	return -1
}

// accessAllowed reports whether an access's code means the authorizer let it through:
// success, or an error only a request past authorization gets.
func accessAllowed(a aclAccess, code int16) bool {
	switch a.name {
	case "fetch":
		return code == errNone || code == errOffsetOutOfRange
	case "metadata":
		return code == errNone || code == errLeaderNotAvailable || code == errUnknownTopicOrPartition
	}
	return code == errNone
}

// aclState is one user's bindings: a set of aclUniverse indexes.
type aclState uint32

type aclInput struct {
	kind   OpKind
	acl    int
	delete bool
	access string
	user   string
}

type aclOutput struct {
	outcome Outcome
}

// aclAllows decides an access as the nodes' authorizer does, on the user's bindings.
func aclAllows(s aclState, user string, a aclAccess) bool {
	bindings := func(t acl.ResourceType, name string, each func(acl.Binding)) {
		for i, tpl := range aclUniverse {
			if s&(1<<i) != 0 {
				each(tpl.binding(user))
			}
		}
	}
	return acl.Authorize(&acl.Config{}, bindings, acl.Request{Principal: "User:" + user, Host: "", Operation: a.op, Type: a.typ, Name: a.res})
}

func aclStep(s aclState, in aclInput, out aclOutput) []aclState {
	same := []aclState{s}
	if in.kind == OpAccess {
		a, _ := accessNamed(in.access)
		if (out.outcome == OK) == aclAllows(s, in.user, a) {
			return same
		}
		return nil
	}
	next := s | 1<<in.acl
	if in.delete {
		next = s &^ (1 << in.acl)
	}
	switch out.outcome {
	case OK:
		return []aclState{next}
	case Indeterminate:
		return []aclState{s, next}
	}
	return same // never sent
}

var aclModel = (&porcupine.NondeterministicModel{
	Init: func() []any { return []any{aclState(0)} },
	Step: func(state, input, output any) []any {
		next := aclStep(state.(aclState), input.(aclInput), output.(aclOutput))
		out := make([]any, len(next))
		for i, s := range next {
			out[i] = s
		}
		return out
	},
	Equal: func(a, b any) bool { return a.(aclState) == b.(aclState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(aclInput), output.(aclOutput)
		op := Op{Kind: in.kind, User: in.user, Acl: in.acl, Delete: in.delete, Access: in.access, Outcome: out.outcome}
		return op.input() + " -> " + out.outcome.String()
	},
	DescribeState: func(state any) string {
		var b bytes.Buffer
		for i, tpl := range aclUniverse {
			if state.(aclState)&(1<<i) != 0 {
				fmt.Fprintf(&b, "%s; ", tpl.text)
			}
		}
		return b.String()
	},
}).ToModel()

// CheckAcls checks the ACL changes and accesses of a history, user by user, within
// timeout: the first user whose history is not linearizable ("" when none is),
// Porcupine's page for it, and the users whose check ran out of time.
func CheckAcls(ops []*Op, timeout time.Duration) (illegal, visualization string, unknown []string) {
	byUser := map[string][]porcupine.Operation{}
	for _, op := range ops {
		switch {
		case op.Kind != OpAclChange && op.Kind != OpAccess, op.Outcome == Pending:
			continue
		case op.Kind == OpAccess && (op.Outcome == Indeterminate || (op.Outcome == Failed && op.Code < 0)):
			continue // no decision seen
		}
		byUser[op.User] = append(byUser[op.User], porcupine.Operation{
			ClientId: int(op.Client - 1),
			Input:    aclInput{kind: op.Kind, acl: op.Acl, delete: op.Delete, access: op.Access, user: op.User},
			Output:   aclOutput{outcome: op.Outcome},
			Call:     op.Call, Return: op.Return,
			Metadata: fmt.Sprintf("op %d via node %d", op.ID, op.Node),
		})
	}
	return checkByUser(aclModel, byUser, timeout)
}
