package controller

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// errorResponse answers req with out on every item (or at the top level where the
// response has one error), at the request's version.
func errorResponse(req kmsg.Request, out outcome) kmsg.Response {
	switch m := req.(type) {
	case *kmsg.BrokerRegistrationRequest:
		r := kmsg.NewPtrBrokerRegistrationResponse()
		r.Version, r.ErrorCode, r.BrokerEpoch = m.Version, out.code, -1
		return r
	case *kmsg.BrokerHeartbeatRequest:
		r := kmsg.NewPtrBrokerHeartbeatResponse()
		r.Version, r.ErrorCode, r.IsFenced = m.Version, out.code, true
		return r
	case *kmsg.AlterPartitionRequest:
		return alterPartitionError(m, out)
	case *kmsg.AlterPartitionAssignmentsRequest:
		r := kmsg.NewPtrAlterPartitionAssignmentsResponse()
		r.Version, r.ErrorCode, r.ErrorMessage = m.Version, out.code, out.message()
		for _, t := range m.Topics {
			rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.ErrorMessage = p.Partition, out.code, out.message()
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	case *kmsg.UnregisterBrokerRequest:
		r := kmsg.NewPtrUnregisterBrokerResponse()
		r.Version, r.ErrorCode, r.ErrorMessage = m.Version, out.code, out.message()
		return r
	case *kmsg.ElectLeadersRequest:
		r := kmsg.NewPtrElectLeadersResponse()
		r.Version, r.ErrorCode = m.Version, out.code
		for _, t := range m.Topics {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewElectLeadersResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.ErrorMessage = p, out.code, out.message()
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	case *kmsg.AllocateProducerIDsRequest:
		r := kmsg.NewPtrAllocateProducerIDsResponse()
		r.Version, r.ErrorCode = m.Version, out.code
		return r
	case *kmsg.CreateTopicsRequest:
		return createTopicsError(m, out)
	case *kmsg.DeleteTopicsRequest:
		return deleteTopicsError(m, out)
	case *kmsg.CreatePartitionsRequest:
		r := kmsg.NewPtrCreatePartitionsResponse()
		r.Version = m.Version
		for _, t := range m.Topics {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode, rt.ErrorMessage = t.Topic, out.code, out.message()
			r.Topics = append(r.Topics, rt)
		}
		return r
	case *kmsg.IncrementalAlterConfigsRequest:
		r := kmsg.NewPtrIncrementalAlterConfigsResponse()
		r.Version = m.Version
		for _, res := range m.Resources {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
			rr.ErrorCode, rr.ErrorMessage = out.code, out.message()
			r.Resources = append(r.Resources, rr)
		}
		return r
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		return alterScramError(m, out)
	case *kmsg.AlterClientQuotasRequest:
		return alterClientQuotasError(m, out)
	case *kmsg.CreateACLsRequest:
		r := kmsg.NewPtrCreateACLsResponse()
		r.Version = m.Version
		for range m.Creations {
			r.Results = append(r.Results, kmsg.CreateACLsResponseResult{ErrorCode: out.code, ErrorMessage: out.message()})
		}
		return r
	case *kmsg.DeleteACLsRequest:
		r := kmsg.NewPtrDeleteACLsResponse()
		r.Version = m.Version
		for range m.Filters {
			r.Results = append(r.Results, kmsg.DeleteACLsResponseResult{ErrorCode: out.code, ErrorMessage: out.message()})
		}
		return r
	case *kmsg.AlterConfigsRequest:
		r := kmsg.NewPtrAlterConfigsResponse()
		r.Version = m.Version
		for _, res := range m.Resources {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
			rr.ErrorCode, rr.ErrorMessage = out.code, out.message()
			r.Resources = append(r.Resources, rr)
		}
		return r
	}
	panic(fmt.Sprintf("controller: no error response for %T", req))
}

func createTopicsError(m *kmsg.CreateTopicsRequest, out outcome) kmsg.Response {
	r := kmsg.NewPtrCreateTopicsResponse()
	r.Version = m.Version
	for _, t := range m.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t.Topic, -1, -1
		rt.ErrorCode, rt.ErrorMessage = out.code, out.message()
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func deleteTopicsError(m *kmsg.DeleteTopicsRequest, out outcome) kmsg.Response {
	r := kmsg.NewPtrDeleteTopicsResponse()
	r.Version = m.Version
	add := func(name *string, id [16]byte) {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = name, id
		rt.ErrorCode, rt.ErrorMessage = out.code, out.message()
		r.Topics = append(r.Topics, rt)
	}
	if m.Version < 6 {
		for _, name := range m.TopicNames {
			add(&name, [16]byte{})
		}
		return r
	}
	for _, t := range m.Topics {
		add(t.Topic, t.TopicID)
	}
	return r
}

// alterScramError fails every user named in m, once each, in order of first appearance.
func alterScramError(m *kmsg.AlterUserSCRAMCredentialsRequest, out outcome) kmsg.Response {
	r := kmsg.NewPtrAlterUserSCRAMCredentialsResponse()
	r.Version = m.Version
	seen := map[string]bool{}
	add := func(user string) {
		if seen[user] {
			return
		}
		seen[user] = true
		rr := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		rr.User, rr.ErrorCode, rr.ErrorMessage = user, out.code, out.message()
		r.Results = append(r.Results, rr)
	}
	for _, d := range m.Deletions {
		add(d.Name)
	}
	for _, u := range m.Upsertions {
		add(u.Name)
	}
	return r
}
