package kafka

import (
	"fmt"
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeTopicsRequest(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, names ...string) *kmsg.DescribeTopicPartitionsRequest {
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit, req.Cursor = limit, cursor
	for _, n := range names {
		t := kmsg.NewDescribeTopicPartitionsRequestTopic()
		t.Topic = n
		req.Topics = append(req.Topics, t)
	}
	return req
}

// describedPartitions lists "topic-partition" (or "topic:CODE") per answer entry, and
// the next cursor.
func describedPartitions(t *testing.T, resp *kmsg.DescribeTopicPartitionsResponse) (got []string, next string) {
	t.Helper()
	checkWire(t, resp)
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			got = append(got, fmt.Sprintf("%s:%s", *rt.Topic, kerr.ErrorForCode(rt.ErrorCode).(*kerr.Error).Message))
			continue
		}
		for _, p := range rt.Partitions {
			got = append(got, fmt.Sprintf("%s-%d", *rt.Topic, p.Partition))
		}
	}
	if c := resp.NextCursor; c != nil {
		next = fmt.Sprintf("%s-%d", c.Topic, c.Partition)
	}
	return got, next
}

// Paging through every topic with a small limit visits each partition once, in name
// and partition order, and the cursor names where each page stopped.
func TestDescribeTopicPartitionsPages(t *testing.T) {
	v := View{Image: testImage(t)}
	var all []string
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	var nexts []string
	for range 10 {
		resp := DescribeTopicPartitions(v, viaWire(t, describeTopicsRequest(3, cursor)))
		got, next := describedPartitions(t, resp)
		if len(got) > 3 {
			t.Fatalf("page of %d partitions with a limit of 3: %v", len(got), got)
		}
		all = append(all, got...)
		nexts = append(nexts, next)
		if resp.NextCursor == nil {
			break
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	want := "[__consumer_offsets-0 __consumer_offsets-1 __consumer_offsets-2 __consumer_offsets-3 events-0 orders-0 orders-1 orders-2]"
	if fmt.Sprint(all) != want {
		t.Errorf("pages gave %v, want %s", all, want)
	}
	if fmt.Sprint(nexts) != "[__consumer_offsets-3 orders-1 ]" {
		t.Errorf("cursors %q", nexts)
	}
	// A page that ends exactly with a topic's last partition names the next topic's
	// partition 0.
	if _, next := describedPartitions(t, DescribeTopicPartitions(v, viaWire(t, describeTopicsRequest(4, nil)))); next != "events-0" {
		t.Errorf("after a whole topic: cursor %q, want events-0", next)
	}
}

// Named topics: unknown and invalid names get their codes, denied ones come last with
// TOPIC_AUTHORIZATION_FAILED and no id, a listing of all topics hides them, and a cursor
// outside the named topics or with a negative partition is INVALID_REQUEST.
func TestDescribeTopicPartitionsNamedAndDenied(t *testing.T) {
	im := testImage(t)
	var err error
	for i, b := range []acl.Binding{
		{Resource: acl.Resource{Type: acl.ResourceTopic, Name: acl.Wildcard, Pattern: acl.PatternLiteral},
			Entry: acl.Entry{Principal: "User:alice", Host: acl.Wildcard, Operation: acl.OpDescribe, Permission: acl.PermissionAllow}},
		{Resource: acl.Resource{Type: acl.ResourceTopic, Name: "events", Pattern: acl.PatternLiteral},
			Entry: acl.Entry{Principal: "User:alice", Host: acl.Wildcard, Operation: acl.OpDescribe, Permission: acl.PermissionDeny}},
	} {
		if im, err = im.Apply(int64(1000+i), metadata.Acl{Binding: b}); err != nil {
			t.Fatal(err)
		}
	}
	v := View{Image: im, Access: &Access{Principal: "User:alice", Host: "h", Config: &acl.Config{}, Fresh: true}}
	resp := DescribeTopicPartitions(v, viaWire(t, describeTopicsRequest(2000, nil, "events", "orders", "nope", "bad/name", "orders")))
	got, next := describedPartitions(t, resp)
	want := "[bad/name:INVALID_TOPIC_EXCEPTION nope:UNKNOWN_TOPIC_OR_PARTITION orders-0 orders-1 orders-2 events:TOPIC_AUTHORIZATION_FAILED]"
	if fmt.Sprint(got) != want || next != "" {
		t.Errorf("named: %v (next %q), want %s", got, next, want)
	}
	if last := resp.Topics[len(resp.Topics)-1]; last.TopicID != ([16]byte{}) {
		t.Errorf("a denied topic's id was given: %v", last.TopicID)
	}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.LeaderID < 0 || p.LeaderEpoch < 0 || len(p.Replicas) == 0 || len(p.ISR) == 0 || len(p.EligibleLeaderReplicas) != 0 {
				t.Errorf("%s-%d: %+v", *rt.Topic, p.Partition, p)
			}
		}
	}
	got, _ = describedPartitions(t, DescribeTopicPartitions(v, viaWire(t, describeTopicsRequest(2000, nil))))
	if fmt.Sprint(got) != "[__consumer_offsets-0 __consumer_offsets-1 __consumer_offsets-2 __consumer_offsets-3 orders-0 orders-1 orders-2]" {
		t.Errorf("all topics: %v, want all but events", got)
	}
	for _, c := range []kmsg.DescribeTopicPartitionsRequestCursor{{Topic: "events", Partition: 0}, {Topic: "orders", Partition: -1}} {
		got, _ = describedPartitions(t, DescribeTopicPartitions(v, viaWire(t, describeTopicsRequest(2000, &c, "orders", "nope"))))
		if fmt.Sprint(got) != "[orders:INVALID_REQUEST nope:INVALID_REQUEST]" {
			t.Errorf("cursor %+v: %v", c, got)
		}
	}
}

// The limit is clamped to [1, DescribeTopicPartitionsLimitMax], and a cursor inside a
// topic starts there.
func TestDescribeTopicPartitionsLimitAndCursor(t *testing.T) {
	v := View{Image: testImage(t)}
	for _, tc := range []struct {
		limit int32
		want  string
	}{{0, "[events-0] orders-0"}, {-5, "[events-0] orders-0"}, {1 << 30, "[events-0 orders-0 orders-1 orders-2] "}} {
		got, next := describedPartitions(t, DescribeTopicPartitions(v, viaWire(t, describeTopicsRequest(tc.limit, nil, "orders", "events"))))
		if s := fmt.Sprint(got) + " " + next; s != tc.want {
			t.Errorf("limit %d: %s, want %s", tc.limit, s, tc.want)
		}
	}
	c := &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "orders", Partition: 1}
	got, next := describedPartitions(t, DescribeTopicPartitions(v, viaWire(t, describeTopicsRequest(10, c, "orders", "events"))))
	if fmt.Sprint(got) != "[orders-1 orders-2]" || next != "" {
		t.Errorf("from orders-1: %v next %q", got, next)
	}
	c.Partition = 7 // past the end: nothing of orders, and no cursor
	got, next = describedPartitions(t, DescribeTopicPartitions(v, viaWire(t, describeTopicsRequest(10, c, "orders"))))
	if fmt.Sprint(got) != "[]" || next != "" {
		t.Errorf("from orders-7: %v next %q", got, next)
	}
}
