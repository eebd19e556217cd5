package kafka

// Metadata, key 3, versions 0-12.
//
// Deviations from Apache Kafka:
//   - Linearizable: the node answers only after a read barrier through the active
//     controller, so a Metadata response reflects every topic change acknowledged before
//     the request was sent. Kafka answers from the broker's cache, which may lag.
//   - Topics are never created automatically; AllowAutoTopicCreation is ignored and an
//     unknown topic is UNKNOWN_TOPIC_OR_PARTITION. Create topics explicitly.
//   - ControllerID is the answering broker: clients send admin requests to the
//     "controller", and every seedlog broker forwards them to the active controller.
//   - Authorized operations are not computed (-2147483648, "not requested").

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// View is what a broker's read-only handlers see of the cluster.
type View struct {
	Image     metadata.Image
	ClusterID string
	NodeID    int32
	// Listener names the listener the request came on: brokers are described by their
	// listener of that name, and left out when they have none.
	Listener string
	// FetchBytesMax is the broker's fetch.max.bytes: the most record bytes one Fetch
	// response carries, whatever the request asks (0: FetchBytesMaxDefault).
	FetchBytesMax int32
	// Fences, when set, lists this broker's replicas that hold fenced ranges (see
	// FencedRangesConfig); nil where the broker hosts no replicas.
	Fences func() []ReplicaFences
	// Static is this broker's static layer of topic configs: what its configuration
	// sets below the topics' own and the cluster-wide settings (DescribeConfigs reports
	// it as STATIC_BROKER_CONFIG).
	Static metadata.StaticConfig
	// Access authorizes the request; nil when the broker does not authorize.
	Access *Access
	// Principal is the request's authenticated principal (User:ANONYMOUS without
	// authentication): fetch sessions belong to it.
	Principal string
	// Plants are the node's planted bugs (simulator self-tests only).
	Plants plant.Set
}

// ReplicaFences are the fenced ranges of one replica on this broker: offsets whose
// batches failed their checksums on its disk (damaged) or that the partition declared
// lost.
type ReplicaFences struct {
	Topic     string
	Partition int32
	Fences    []disk.Fence
}

const authorizedOperationsNone = -2147483648

// Metadata answers from the view's image.
func Metadata(v View, req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.SetVersion(req.GetVersion())
	resp.ClusterID = &v.ClusterID
	resp.ControllerID = v.NodeID
	for _, b := range v.Image.Brokers() {
		l, ok := b.Endpoint(v.Listener)
		if b.Fenced || !ok {
			continue
		}
		mb := kmsg.MetadataResponseBroker{NodeID: b.ID, Host: l.Host, Port: l.Port}
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	all := req.Topics == nil || (req.GetVersion() == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range v.Image.Topics() {
			if v.Allowed(acl.OpDescribe, acl.ResourceTopic, t.Name) { // topics it may not describe stay hidden
				resp.Topics = append(resp.Topics, metadataTopic(v, t))
			}
		}
		return resp
	}
	for _, rt := range req.Topics {
		t, ok := lookupTopic(v.Image, rt.Topic, rt.TopicID)
		name := t.Name
		if rt.Topic != nil {
			name = *rt.Topic
		}
		if code := v.CheckTopic(acl.OpDescribe, name); (ok || rt.Topic != nil) && code != 0 {
			// Whether it exists or not: the answer tells nothing of topics it may not see.
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode, mt.AuthorizedOperations = code, authorizedOperationsNone
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		if !ok {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			mt.AuthorizedOperations = authorizedOperationsNone
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, metadataTopic(v, t))
	}
	return resp
}

// lookupTopic finds a topic by name, or by id when the name is absent (v10+).
func lookupTopic(im metadata.Image, name *string, id [16]byte) (metadata.TopicInfo, bool) {
	if name != nil {
		return im.Topic(*name)
	}
	if id == ([16]byte{}) {
		return metadata.TopicInfo{}, false
	}
	return im.TopicByID(id)
}

func metadataTopic(v View, t metadata.TopicInfo) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic, mt.TopicID = &name, t.ID
	mt.IsInternal = metadata.InternalTopic(t.Name)
	mt.AuthorizedOperations = authorizedOperationsNone
	for _, p := range v.Image.Partitions(t.ID) {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition, mp.Leader, mp.LeaderEpoch = p.Partition, p.Leader, p.LeaderEpoch
		mp.Replicas, mp.ISR = p.Replicas, p.ISR
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		for _, r := range p.Replicas {
			if v.Image.IsFenced(r) {
				mp.OfflineReplicas = append(mp.OfflineReplicas, r)
			}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
