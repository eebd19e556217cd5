package kafka

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Access is the authorization of the request a View serves. A nil *Access allows
// everything: the broker does not authorize.
type Access struct {
	Principal string
	Host      string
	Config    *acl.Config
	// Fresh says the image holds every acknowledged ACL change: the broker holds a
	// valid lease (the controller grants none to a broker that lags an ACL change) or a
	// read barrier just passed. A decision on a stale image could let a principal that
	// lost access in, so without it every check answers a retriable code instead.
	Fresh bool
	// Plants are the node's planted bugs (simulator self-tests only).
	Plants plant.Set
}

// allowed decides op on a resource against im's bindings.
func (a *Access) allowed(v *View, op acl.Operation, t acl.ResourceType, name string) bool {
	return acl.Authorize(a.Config, v.Image.AclBindings, acl.Request{Principal: a.Principal, Host: a.Host, Operation: op, Type: t, Name: name})
}

// Check returns 0 when the request may perform op on the resource, else the code to
// answer: the resource type's authorization failure, or retry when the broker cannot
// decide yet.
func (v View) Check(op acl.Operation, t acl.ResourceType, name string) int16 {
	a := v.Access
	if a == nil {
		return 0
	}
	if !a.Fresh {
		return retryCode(t)
	}
	if a.allowed(&v, op, t, name) {
		return 0
	}
	return deniedCode(t)
}

// Allowed is Check == 0.
func (v View) Allowed(op acl.Operation, t acl.ResourceType, name string) bool {
	return v.Check(op, t, name) == 0
}

// CheckCluster checks op on the cluster resource.
func (v View) CheckCluster(op acl.Operation) int16 {
	return v.Check(op, acl.ResourceCluster, acl.ClusterName)
}

// CheckTopic checks op on a topic.
func (v View) CheckTopic(op acl.Operation, topic string) int16 {
	return v.Check(op, acl.ResourceTopic, topic)
}

// CheckGroup checks op on a group.
func (v View) CheckGroup(op acl.Operation, group string) int16 {
	return v.Check(op, acl.ResourceGroup, group)
}

// MayWriteSomeTopic reports whether the principal is allowed WRITE on some topic by a
// binding (Kafka's authorizeByResourceType, which idempotent producers may rely on
// instead of IDEMPOTENT_WRITE on the cluster): an allow of WRITE or ALL on a topic
// pattern that names the principal (or every user) and its host.
func (v View) MayWriteSomeTopic() bool {
	a := v.Access
	if a == nil {
		return true
	}
	for _, su := range a.Config.SuperUsers {
		if su == a.Principal {
			return true
		}
	}
	return v.Image.AnyAcl(func(b acl.Binding) bool {
		return b.Type == acl.ResourceTopic && b.Permission == acl.PermissionAllow &&
			(b.Operation == acl.OpWrite || b.Operation == acl.OpAll) &&
			(b.Principal == a.Principal || b.Principal == "User:*") && (b.Host == acl.Wildcard || b.Host == a.Host)
	})
}

func deniedCode(t acl.ResourceType) int16 {
	switch t {
	case acl.ResourceTopic:
		return kerr.TopicAuthorizationFailed.Code
	case acl.ResourceGroup:
		return kerr.GroupAuthorizationFailed.Code
	case acl.ResourceTransactionalID:
		return kerr.TransactionalIDAuthorizationFailed.Code
	case acl.ResourceDelegationToken:
		return kerr.DelegationTokenAuthorizationFailed.Code
	}
	return kerr.ClusterAuthorizationFailed.Code
}

// retryCode is what a broker that cannot decide yet answers: codes clients retry after
// looking for the leader or coordinator again (the broker lacks the lease both need).
func retryCode(t acl.ResourceType) int16 {
	switch t {
	case acl.ResourceTopic:
		return kerr.NotLeaderForPartition.Code
	case acl.ResourceGroup, acl.ResourceTransactionalID:
		return kerr.CoordinatorNotAvailable.Code
	}
	return kerr.RequestTimedOut.Code
}
