package kafka

// ListPartitionReassignments, key 46, versions 0-0.
//
// Answered by any broker from its image after a read barrier, rather than by the
// controller as in Kafka: the barrier makes the image at least as new as every move an
// AlterPartitionReassignments answer reported. DESCRIBE on the cluster, as in Kafka.

import (
	"slices"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListPartitionReassignments lists the moving partitions: all of them, or those named.
func ListPartitionReassignments(v View, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.SetVersion(req.GetVersion())
	if code := v.CheckCluster(acl.OpDescribe); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	add := func(name string, ps metadata.PartitionState) {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != name {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = name
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition = ps.Partition
		rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = slices.Clone(ps.Replicas), slices.Clone(ps.Adding), slices.Clone(ps.Removing)
		rt := &resp.Topics[len(resp.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	if req.Topics == nil {
		for _, t := range v.Image.Topics() {
			for _, ps := range v.Image.Partitions(t.ID) {
				if ps.Moving() {
					add(t.Name, ps)
				}
			}
		}
		return resp
	}
	for _, t := range req.Topics {
		info, found := v.Image.Topic(t.Topic)
		for _, p := range t.Partitions {
			if ps, exists := v.Image.Partition(info.ID, p); found && exists && ps.Moving() {
				add(t.Topic, ps)
			}
		}
	}
	return resp
}
