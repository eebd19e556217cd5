package core

import (
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/sasl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (l *lone) createTopic(conn ConnID, listener, name string) int16 {
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, t)
	resp, _ := l.ask(conn, listener, req).(*kmsg.CreateTopicsResponse)
	if resp == nil || len(resp.Topics) != 1 {
		l.t.Fatalf("CreateTopics %s: %+v", name, resp)
	}
	return resp.Topics[0].ErrorCode
}

func (l *lone) aclChange(conn ConnID, b acl.Binding, remove bool) {
	var code int16 = -1
	if remove {
		req := kmsg.NewPtrDeleteACLsRequest()
		name, principal := b.Name, b.Principal
		req.Filters = []kmsg.DeleteACLsRequestFilter{{ResourceType: kmsg.ACLResourceType(b.Type), ResourceName: &name,
			ResourcePatternType: kmsg.ACLResourcePatternType(b.Pattern), Principal: &principal, Operation: kmsg.ACLOperation(b.Operation),
			PermissionType: kmsg.ACLPermissionType(b.Permission)}}
		if r, _ := l.ask(conn, "PLAIN", req).(*kmsg.DeleteACLsResponse); r != nil && len(r.Results) == 1 && len(r.Results[0].MatchingACLs) == 1 {
			code = r.Results[0].ErrorCode
		}
	} else {
		req := kmsg.NewPtrCreateACLsRequest()
		req.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: kmsg.ACLResourceType(b.Type), ResourceName: b.Name,
			ResourcePatternType: kmsg.ACLResourcePatternType(b.Pattern), Principal: b.Principal, Host: b.Host,
			Operation: kmsg.ACLOperation(b.Operation), PermissionType: kmsg.ACLPermissionType(b.Permission)}}
		if r, _ := l.ask(conn, "PLAIN", req).(*kmsg.CreateACLsResponse); r != nil && len(r.Results) == 1 {
			code = r.Results[0].ErrorCode
		}
	}
	if code != 0 {
		l.t.Fatalf("ACL change %+v (remove %v): code %d", b, remove, code)
	}
}

func (l *lone) metadataTopics(conn ConnID) map[string]int16 {
	r, _ := l.ask(conn, "SASL", kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse)
	if r == nil {
		l.t.Fatal("Metadata not answered")
	}
	out := map[string]int16{}
	for _, t := range r.Topics {
		out[*t.Topic] = t.ErrorCode
	}
	return out
}

func (l *lone) listOffsetsCode(conn ConnID, topic string) int16 {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, _ := l.ask(conn, "SASL", req).(*kmsg.ListOffsetsResponse)
	if r == nil {
		l.t.Fatal("ListOffsets not answered")
	}
	return r.Topics[0].Partitions[0].ErrorCode
}

// With the authorizer on, a principal does what its ACLs allow and nothing else: topics
// it may not describe are hidden, a revoked ACL refuses from the answer on, admin
// requests are authorized item by item, and no client creates an internal topic.
func TestACLs(t *testing.T) {
	l := newLone(t, Config{Authorizer: true, SuperUsers: []string{acl.Anonymous}, Listeners: []Listener{
		{Name: "SASL", Host: "h", Port: 1, SecurityProtocol: protocolSASLPlaintext},
		{Name: "PLAIN", Host: "h", Port: 2}}})
	l.setPassword("alice", "pw", sasl.ScramSHA512)
	for _, name := range []string{"orders", "secrets"} {
		if code := l.createTopic(999, "PLAIN", name); code != 0 {
			t.Fatalf("the super user creating %s: %d", name, code)
		}
	}
	l.run(2e9)
	if code, _ := l.scram(1, sasl.ScramSHA512, "alice", "pw", 1); code != 0 {
		t.Fatal("alice cannot authenticate")
	}
	if got := l.metadataTopics(1); len(got) != 0 {
		t.Fatalf("alice without ACLs sees %v", got)
	}
	if code := l.listOffsetsCode(1, "orders"); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("ListOffsets without DESCRIBE: %d", code)
	}
	read := acl.Binding{Resource: acl.Resource{Type: acl.ResourceTopic, Name: "ord", Pattern: acl.PatternPrefixed},
		Entry: acl.Entry{Principal: "User:alice", Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow}}
	l.aclChange(999, read, false)
	if got := l.metadataTopics(1); len(got) != 1 || got["orders"] != 0 {
		t.Fatalf("alice with READ on ord* sees %v", got)
	}
	if code := l.listOffsetsCode(1, "orders"); code != 0 {
		t.Fatalf("ListOffsets with READ (which implies DESCRIBE): %d", code)
	}
	if code := l.createTopic(1, "SASL", "orders2"); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("alice creating a topic: %d", code)
	}
	anyACL := kmsg.NewPtrDescribeACLsRequest()
	anyACL.ResourceType, anyACL.ResourcePatternType, anyACL.Operation, anyACL.PermissionType = 1, 1, 1, 1
	desc, _ := l.ask(999, "PLAIN", anyACL).(*kmsg.DescribeACLsResponse)
	if desc == nil || desc.ErrorCode != 0 || len(desc.Resources) != 1 || len(desc.Resources[0].ACLs) != 1 {
		t.Fatalf("DescribeAcls: %+v", desc)
	}
	if r, _ := l.ask(1, "SASL", anyACL).(*kmsg.DescribeACLsResponse); r == nil || r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("DescribeAcls by alice: %+v", r)
	}
	l.aclChange(999, read, true)
	if code := l.listOffsetsCode(1, "orders"); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("ListOffsets after the ACL was removed: %d", code)
	}
	if code := l.createTopic(999, "PLAIN", "__consumer_offsets"); code != kerr.InvalidRequest.Code {
		t.Fatalf("a client creating the offsets topic: %d", code)
	}
}

// An idempotent producer may start with IDEMPOTENT_WRITE on the cluster or, as Kafka
// allows since 3.0, an allow of WRITE on some topic; with neither it is refused.
func TestInitProducerIDNeedsWriteSomewhere(t *testing.T) {
	l := newLone(t, Config{Authorizer: true, SuperUsers: []string{acl.Anonymous}, Listeners: []Listener{
		{Name: "SASL", Host: "h", Port: 1, SecurityProtocol: protocolSASLPlaintext},
		{Name: "PLAIN", Host: "h", Port: 2}}})
	l.setPassword("alice", "pw", sasl.ScramSHA512)
	if code, _ := l.scram(1, sasl.ScramSHA512, "alice", "pw", 1); code != 0 {
		t.Fatal("alice cannot authenticate")
	}
	initPID := func() int16 {
		r, _ := l.ask(1, "SASL", kmsg.NewPtrInitProducerIDRequest()).(*kmsg.InitProducerIDResponse)
		if r == nil {
			t.Fatal("InitProducerId not answered")
		}
		return r.ErrorCode
	}
	if code := initPID(); code != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("without ACLs: %d", code)
	}
	l.aclChange(999, acl.Binding{Resource: acl.Resource{Type: acl.ResourceTopic, Name: "out-", Pattern: acl.PatternPrefixed},
		Entry: acl.Entry{Principal: "User:alice", Host: "*", Operation: acl.OpWrite, Permission: acl.PermissionAllow}}, false)
	if code := initPID(); code != 0 {
		t.Fatalf("with WRITE on out-*: %d", code)
	}
}
