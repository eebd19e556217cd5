package kafka

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Admin requests the broker forwards are authorized by the broker first, on an image a
// read barrier made current: the items the principal may not touch are answered by the
// broker, the rest go to the controller, and the two answers are merged. Kafka checks:
// CreateTopics CREATE on the cluster or the topic; DeleteTopics DELETE, CreatePartitions
// ALTER on the topic; AlterConfigs and IncrementalAlterConfigs ALTER_CONFIGS on the
// topic or the cluster; AlterClientQuotas ALTER_CONFIGS on the cluster;
// AlterUserScramCredentials, CreateAcls, DeleteAcls, ElectLeaders,
// AlterPartitionReassignments and UnregisterBroker ALTER on the cluster. Internal topics are the brokers' own: no client creates one.

// CodeRequestTimedOut is REQUEST_TIMED_OUT.
var CodeRequestTimedOut = kerr.RequestTimedOut.Code

// internalTopics are created by the brokers themselves, never by clients.
var internalTopics = []string{"__consumer_offsets", "__transaction_state"}

func isInternal(topic string) bool {
	for _, t := range internalTopics {
		if t == topic {
			return true
		}
	}
	return false
}

// HasInternalTopic reports whether a forwarded request creates an internal topic.
func HasInternalTopic(req kmsg.Request) bool {
	if m, ok := req.(*kmsg.CreateTopicsRequest); ok {
		for _, t := range m.Topics {
			if isInternal(t.Topic) {
				return true
			}
		}
	}
	return false
}

// SplitForward splits a forwarded request into what may go to the controller (nil when
// nothing may) and the answer to the rest (nil when nothing is refused), both at the
// request's version.
func SplitForward(v View, req kmsg.Request) (kmsg.Request, kmsg.Response) {
	switch m := req.(type) {
	case *kmsg.CreateTopicsRequest:
		cluster := v.CheckCluster(acl.OpCreate) == 0
		return splitItems(m, &m.Topics, func(t kmsg.CreateTopicsRequestTopic) int16 {
			if isInternal(t.Topic) {
				return kerr.InvalidRequest.Code
			}
			if cluster {
				return 0
			}
			return v.CheckTopic(acl.OpCreate, t.Topic)
		})
	case *kmsg.DeleteTopicsRequest:
		if m.Version < 6 {
			return splitItems(m, &m.TopicNames, func(name string) int16 { return v.CheckTopic(acl.OpDelete, name) })
		}
		return splitItems(m, &m.Topics, func(t kmsg.DeleteTopicsRequestTopic) int16 {
			if t.Topic != nil {
				return v.CheckTopic(acl.OpDelete, *t.Topic)
			}
			if info, ok := v.Image.TopicByID(t.TopicID); ok {
				return v.CheckTopic(acl.OpDelete, info.Name)
			}
			return 0 // an unknown id: the controller says so
		})
	case *kmsg.CreatePartitionsRequest:
		return splitItems(m, &m.Topics, func(t kmsg.CreatePartitionsRequestTopic) int16 {
			return v.CheckTopic(acl.OpAlter, t.Topic)
		})
	case *kmsg.AlterConfigsRequest:
		return splitItems(m, &m.Resources, func(r kmsg.AlterConfigsRequestResource) int16 {
			return checkConfigResource(v, acl.OpAlterConfigs, int8(r.ResourceType), r.ResourceName)
		})
	case *kmsg.IncrementalAlterConfigsRequest:
		return splitItems(m, &m.Resources, func(r kmsg.IncrementalAlterConfigsRequestResource) int16 {
			return checkConfigResource(v, acl.OpAlterConfigs, int8(r.ResourceType), r.ResourceName)
		})
	case *kmsg.AlterClientQuotasRequest:
		if code := v.CheckCluster(acl.OpAlterConfigs); code != 0 {
			return nil, ForwardError(req, code)
		}
		return req, nil
	}
	// AlterUserScramCredentials, CreateAcls, DeleteAcls, ElectLeaders,
	// AlterPartitionReassignments, UnregisterBroker: the cluster, all or nothing.
	if code := v.CheckCluster(acl.OpAlter); code != 0 {
		return nil, ForwardError(req, code)
	}
	return req, nil
}

// checkConfigResource checks op on a config resource: a topic, or (a broker resource)
// the cluster.
func checkConfigResource(v View, op acl.Operation, typ int8, name string) int16 {
	if typ == 2 {
		return v.CheckTopic(op, name)
	}
	return v.CheckCluster(op)
}

// splitItems splits the items of req (a pointer to its item slice) by check: it
// returns req with the allowed items (nil when none are) and the answer to the others,
// grouped by code (nil when none are refused). The request's slice is replaced, not
// changed in place.
func splitItems[T any](req kmsg.Request, items *[]T, check func(T) int16) (kmsg.Request, kmsg.Response) {
	all := *items
	var allowed []T
	refused := map[int16][]T{}
	var codes []int16
	for _, it := range all {
		code := check(it)
		if code == 0 {
			allowed = append(allowed, it)
			continue
		}
		if _, seen := refused[code]; !seen {
			codes = append(codes, code)
		}
		refused[code] = append(refused[code], it)
	}
	var denied kmsg.Response
	for _, code := range codes {
		*items = refused[code]
		denied = mergeNonNil(denied, ForwardError(req, code))
	}
	*items = allowed
	if len(allowed) == 0 && len(all) > 0 {
		*items = all
		return nil, denied
	}
	if len(all) == 0 {
		*items = all
	}
	return req, denied
}

func mergeNonNil(a, b kmsg.Response) kmsg.Response {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return MergeForward(a, b)
}

// MergeForward appends the items of denied (nil: none) to resp, which must be of the
// same type.
func MergeForward(resp, denied kmsg.Response) kmsg.Response {
	if denied == nil {
		return resp
	}
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		r.Topics = append(r.Topics, denied.(*kmsg.CreateTopicsResponse).Topics...)
	case *kmsg.DeleteTopicsResponse:
		r.Topics = append(r.Topics, denied.(*kmsg.DeleteTopicsResponse).Topics...)
	case *kmsg.CreatePartitionsResponse:
		r.Topics = append(r.Topics, denied.(*kmsg.CreatePartitionsResponse).Topics...)
	case *kmsg.AlterConfigsResponse:
		r.Resources = append(r.Resources, denied.(*kmsg.AlterConfigsResponse).Resources...)
	case *kmsg.IncrementalAlterConfigsResponse:
		r.Resources = append(r.Resources, denied.(*kmsg.IncrementalAlterConfigsResponse).Resources...)
	}
	return resp
}
