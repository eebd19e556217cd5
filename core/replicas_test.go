package core

import (
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker creates the logs of new replicas a few at a time (ReplicaCreatesMax), and
// every replica is created in the end; the replicas stay in line with the metadata
// (CheckReplicas) throughout, as configs and leaderships change.
func TestReplicaCreationsArePaced(t *testing.T) {
	const partitions, bound = 60, 4
	n, err := New(Config{NodeID: 1, Voters: []int32{1}, Broker: true, Seed: 1, ReplicaCreatesMax: bound})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	n.Start(now, disk.Recovered{Files: map[string][]byte{}})
	creating, most := map[disk.OpID]bool{}, 0
	step := func(d time.Duration) {
		end := now + int64(d)
		for now < end {
			out := n.Drain()
			if out.Fatal != nil {
				t.Fatal(out.Fatal)
			}
			if err := n.CheckReplicas(); err != nil {
				t.Fatal(err)
			}
			if len(out.Ops) == 0 {
				now = max(now+int64(time.Microsecond), min(n.Deadline(), end))
				n.Tick(now)
				continue
			}
			for _, op := range out.Ops {
				if op.Kind == disk.CreateLog && op.Log != disk.MetadataLog {
					creating[op.ID] = true
				}
			}
			most = max(most, len(creating))
			for _, op := range out.Ops {
				delete(creating, op.ID)
				n.Done(now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
			}
		}
	}
	step(5 * time.Second)
	for _, topic := range []string{"a", "b"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		tr := kmsg.NewCreateTopicsRequestTopic()
		tr.Topic, tr.NumPartitions, tr.ReplicationFactor = topic, partitions/2, 1
		req.Topics = append(req.Topics, tr)
		req.TimeoutMillis = 60_000
		n.Request(now, Request{Conn: 1, Key: req.Key(), Version: req.GetVersion(), Msg: req})
	}
	step(10 * time.Second)
	// A topic's config and a cluster-wide one: CheckReplicas compares what each replica
	// was given with the configs.
	for _, res := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeTopic, "a"}, {kmsg.ConfigResourceTypeBroker, ""}} {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = res.typ, res.name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", kmsg.StringPtr("3600000")
		if res.name == "" {
			c.Name = "log.retention.ms"
		}
		r.Configs = append(r.Configs, c)
		req.Resources = append(req.Resources, r)
		n.Request(now, Request{Conn: 1, Key: req.Key(), Version: req.GetVersion(), Msg: req})
		step(time.Second)
	}
	for _, hr := range n.replicas.sorted {
		if hr.given.RetentionMs != 3600000 {
			t.Fatalf("replica %s has retention.ms %d after the changes", hr.id, hr.given.RetentionMs)
		}
	}
	leading := 0
	for _, st := range n.Replicas() {
		if st.Role == partition.RoleLeader && !st.Loading {
			leading++
		}
	}
	if leading != partitions {
		t.Fatalf("%d of %d partitions lead", leading, partitions)
	}
	if most > bound || most < 2 {
		t.Fatalf("at most %d partition logs were created at once, want 2 to %d", most, bound)
	}
}
