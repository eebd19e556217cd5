package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchAt fetches partition 0 of topic at offset once, with raw requests (franz-go's
// consumer would retry CORRUPT_MESSAGE forever), and returns the error code and the
// records' offsets and values.
func fetchAt(t *testing.T, cl *kgo.Client, topic string, offset int64) (int16, []int64, []string) {
	t.Helper()
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(context.Background(), cl)
	if err != nil || len(mresp.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes, req.MaxWaitMillis = -1, 1<<20, 100
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, mresp.Topics[0].TopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, offset, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch at %d: %v %+v", offset, err, resp)
	}
	p := resp.Topics[0].Partitions[0]
	var offsets []int64
	var values []string
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: topic, Partition: 0, Offset: offset}, &p, kgo.DefaultDecompressor(), nil)
	for _, r := range fp.Records {
		offsets, values = append(offsets, r.Offset), append(values, string(r.Value))
	}
	return p.ErrorCode, offsets, values
}

func latestOffset(t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := req.RequestWith(context.Background(), cl)
		if err == nil && len(resp.Topics) == 1 && resp.Topics[0].Partitions[0].ErrorCode == 0 {
			return resp.Topics[0].Partitions[0].Offset
		}
		if time.Now().After(deadline) {
			t.Fatalf("list offsets of %s: %v %+v", topic, err, resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A single replica (replication factor 1) whose segment has 16 bytes flipped in the
// middle, on real files: recovery used to cut the log of a thousand records at the
// damage, intact batches after it included, and new writes then took offsets it had
// acknowledged. Now the log keeps its end, every intact batch stays readable, the
// damaged range answers CORRUPT_MESSAGE, and new writes go after the end.
func TestSingleReplicaKeepsItsEndAfterDamage(t *testing.T) {
	tc := startCluster(t, 1, 1, nil)
	cl := tc.client(kgo.DefaultProduceTopic("rf1"), kgo.ProducerLinger(0))
	tc.createTopic(cl, "rf1", 1, 1)
	for i := range 100 {
		produceN(t, cl, "rf1", 0, fmt.Sprintf("b%d", i), 10)
	}
	if end := latestOffset(t, cl, "rf1"); end != 1000 {
		t.Fatalf("log end %d before the damage", end)
	}
	tc.kill(0)
	segment := filepath.Join(tc.cfgs[0].DataDir, "rf1-0", "00000000000000000000.log")
	data, err := os.ReadFile(segment)
	must(t, err)
	mid := len(data) / 2
	for i := range 16 {
		data[mid+i] ^= 0x5a
	}
	must(t, os.WriteFile(segment, data, 0o644))
	tc.start(0)
	cl = tc.client(kgo.DefaultProduceTopic("rf1"))
	tc.waitLeaders(cl, "rf1", 1)

	if end := latestOffset(t, cl, "rf1"); end != 1000 {
		t.Fatalf("log end %d after recovery, want 1000", end)
	}
	// Read everything: intact batches come back, the damaged range answers
	// CORRUPT_MESSAGE, which the reader skips one offset at a time.
	var fenced []int64
	read := 0
	for off := int64(0); off < 1000; {
		code, offsets, values := fetchAt(t, cl, "rf1", off)
		switch {
		case code == 2: // CORRUPT_MESSAGE
			fenced = append(fenced, off)
			off++
		case code != 0 || len(offsets) == 0:
			t.Fatalf("fetch at %d: code %d, %d records", off, code, len(offsets))
		default:
			for i, o := range offsets {
				if want := fmt.Sprintf("b%d-%d", o/10, o%10); values[i] != want || o < off {
					t.Fatalf("offset %d holds %q, want %q", o, values[i], want)
				}
				read++
			}
			off = offsets[len(offsets)-1] + 1
		}
	}
	if len(fenced) == 0 || len(fenced) > 20 || read+len(fenced) != 1000 {
		t.Fatalf("%d records read, %d offsets fenced (%v)", read, len(fenced), fenced)
	}
	// The broker says which range it fenced, for seedlog topic describe.
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	res.ConfigNames = []string{"seedlog.fenced.ranges"}
	dreq.Resources = append(dreq.Resources, res)
	dresp, err := dreq.RequestWith(context.Background(), cl)
	want := fmt.Sprintf("rf1-0:%d-%d:damaged", fenced[0], fenced[len(fenced)-1]+1)
	if err != nil || len(dresp.Resources) != 1 || len(dresp.Resources[0].Configs) != 1 || *dresp.Resources[0].Configs[0].Value != want {
		t.Fatalf("describe broker 1: %v %+v, want %s", err, dresp, want)
	}
	produceN(t, cl, "rf1", 0, "after", 1)
	if code, offsets, values := fetchAt(t, cl, "rf1", 1000); code != 0 || len(offsets) != 1 || offsets[0] != 1000 || values[0] != "after-0" {
		t.Fatalf("the write after recovery: code %d, %v %v", code, offsets, values)
	}
}
