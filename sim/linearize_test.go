package sim

import (
	"strings"
	"testing"
	"time"
)

// op builds a history entry.
func hop(id int, client int32, kind OpKind, topic string, call, ret int64, outcome Outcome) *Op {
	return &Op{ID: id, Client: client, Kind: kind, Topic: topic, Call: call, Return: ret, Outcome: outcome, Node: 1}
}

func withCount(op *Op, n int32) *Op { op.Count = n; return op }
func withCode(op *Op, c int16) *Op  { op.Code = c; return op }
func described(op *Op, exists bool, n int32) *Op {
	op.Exists, op.Partitions = exists, n
	return op
}

func TestMetadataModelAcceptsLinearizable(t *testing.T) {
	histories := map[string][]*Op{
		"sequential": {
			withCount(hop(1, 1, OpCreate, "a", 0, 10, OK), 2),
			described(hop(2, 2, OpDescribe, "a", 11, 12, OK), true, 2),
			withCount(hop(3, 1, OpCreatePartitions, "a", 13, 20, OK), 5),
			withCode(withCount(hop(4, 2, OpCreatePartitions, "a", 21, 22, Failed), 4), errInvalidPartitions),
			hop(5, 1, OpDelete, "a", 23, 30, OK),
			withCode(hop(6, 2, OpDelete, "a", 31, 32, Failed), errUnknownTopicOrPartition),
			described(hop(7, 2, OpDescribe, "a", 33, 34, OK), false, 0),
		},
		"concurrent creates, one wins": {
			withCount(hop(1, 1, OpCreate, "a", 0, 10, OK), 1),
			withCode(withCount(hop(2, 2, OpCreate, "a", 5, 8, Failed), 3), errTopicAlreadyExists),
			described(hop(3, 3, OpDescribe, "a", 11, 12, OK), true, 1),
		},
		"indeterminate create resolved by the final read": {
			withCount(hop(1, 1, OpCreate, "a", 0, Never, Indeterminate), 3),
			described(hop(2, 2, OpDescribe, "a", 1, 2, OK), false, 0),
			described(hop(3, 2, OpDescribe, "a", 50, 51, OK), true, 3),
		},
		"indeterminate create that never happened": {
			withCount(hop(1, 1, OpCreate, "a", 0, Never, Indeterminate), 3),
			described(hop(2, 2, OpDescribe, "a", 50, 51, OK), false, 0),
		},
		"no-effect failures anywhere": {
			withCode(withCount(hop(1, 1, OpCreate, "a", 0, 1, Failed), 1), errInvalidReplicationFactor),
			withCode(hop(2, 1, OpDelete, "a", 2, 3, Failed), -1),
			described(hop(3, 2, OpDescribe, "a", 4, 5, OK), false, 0),
		},
		"unanswered reads are ignored": {
			described(hop(1, 2, OpDescribe, "a", 4, Never, Indeterminate), true, 9),
		},
	}
	for name, ops := range histories {
		res := CheckMetadata(ops, 5*time.Second)
		if res.Illegal != "" || len(res.Unknown) != 0 {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestMetadataModelRejectsViolations(t *testing.T) {
	histories := map[string][]*Op{
		"lost create": {
			withCount(hop(1, 1, OpCreate, "a", 0, 10, OK), 2),
			described(hop(2, 2, OpDescribe, "a", 11, 12, OK), false, 0),
		},
		"double create": {
			withCount(hop(1, 1, OpCreate, "a", 0, 10, OK), 2),
			withCount(hop(2, 2, OpCreate, "a", 11, 12, OK), 2),
		},
		"stale read after delete": {
			withCount(hop(1, 1, OpCreate, "b", 0, 10, OK), 2),
			hop(2, 1, OpDelete, "b", 11, 12, OK),
			described(hop(3, 2, OpDescribe, "b", 13, 14, OK), true, 2),
		},
		"exists error without the topic": {
			withCode(withCount(hop(1, 1, OpCreate, "a", 0, 10, Failed), 2), errTopicAlreadyExists),
		},
		"wrong partition count": {
			withCount(hop(1, 1, OpCreate, "a", 0, 10, OK), 2),
			withCount(hop(2, 1, OpCreatePartitions, "a", 11, 12, OK), 4),
			described(hop(3, 2, OpDescribe, "a", 13, 14, OK), true, 3),
		},
		"shrinking create-partitions": {
			withCount(hop(1, 1, OpCreate, "a", 0, 10, OK), 4),
			withCount(hop(2, 1, OpCreatePartitions, "a", 11, 12, OK), 2),
		},
	}
	for name, ops := range histories {
		res := CheckMetadata(ops, 5*time.Second)
		if res.Illegal == "" {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(res.Visualization, "<html") {
			t.Errorf("%s: no visualization", name)
		}
	}
}

func TestMetadataCheckIsPerTopic(t *testing.T) {
	ops := []*Op{
		withCount(hop(1, 1, OpCreate, "a", 0, 10, OK), 2),
		described(hop(2, 2, OpDescribe, "b", 11, 12, OK), true, 2), // b never created
	}
	res := CheckMetadata(ops, 5*time.Second)
	if res.Illegal != "b" || res.Checked != 2 {
		t.Fatalf("got %+v, want topic b illegal of 2", res)
	}
}

func TestCheckListBrokers(t *testing.T) {
	list := func(id int, call, ret int64, brokers ...int32) *Op {
		op := hop(id, 1, OpListBrokers, "", call, ret, OK)
		op.Brokers, op.AllBrokers = brokers, true
		return op
	}
	cluster := []int32{1, 2, 3}
	good := []*Op{list(1, 0, 10, 1), list(2, 5, 15, 2), list(3, 20, 30, 1, 2, 3), list(4, 31, 40, 1, 2, 3)}
	if msg := checkListBrokers(good, cluster, nil); msg != "" {
		t.Fatal(msg)
	}
	bad := []*Op{list(1, 0, 10, 1, 2), list(2, 11, 15, 2)}
	if msg := checkListBrokers(bad, cluster, nil); !strings.Contains(msg, "broker 1") {
		t.Fatalf("missing broker not reported: %q", msg)
	}
	// Concurrent lists may differ.
	concurrent := []*Op{list(1, 0, 10, 1, 2), list(2, 5, 15, 2)}
	if msg := checkListBrokers(concurrent, cluster, nil); msg != "" {
		t.Fatal(msg)
	}
	// Live-broker lists lose fenced brokers: only their ids are checked.
	live := []*Op{list(1, 0, 10, 1, 2), list(2, 11, 15, 2)}
	live[1].AllBrokers = false
	if msg := checkListBrokers(live, cluster, nil); msg != "" {
		t.Fatal(msg)
	}
	stranger := []*Op{list(1, 0, 10, 1, 7)}
	if msg := checkListBrokers(stranger, cluster, nil); !strings.Contains(msg, "not a broker") {
		t.Fatalf("unknown broker not reported: %q", msg)
	}
}
