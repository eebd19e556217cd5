package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker started with min.insync.replicas=2 and log.retention.ms in its properties
// enforces them on a topic that sets neither, and DescribeConfigs says what it enforces:
// the value, STATIC_BROKER_CONFIG and the chain of synonyms down to the built-in
// default. A topic's own min.insync.replicas wins, is enforced, and is reported as
// DYNAMIC_TOPIC_CONFIG ahead of the broker's setting.
func TestDescribeConfigsReportsWhatTheBrokerEnforces(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"min.insync.replicas": "2", "log.retention.ms": "3600000"}})
	cl := c.client()
	c.waitBrokers(cl, 1)
	c.createTopic(cl, "static", 1, 1)
	createTopicWithConfig(t, c, cl, "override", "min.insync.replicas", "1")

	// One replica is fewer than the broker's 2, and than nothing for the override.
	if code := produceAcksAll(t, cl, "static"); code != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all to a topic under the broker's min.insync.replicas=2: code %d, want NOT_ENOUGH_REPLICAS", code)
	}
	if code := produceAcksAll(t, cl, "override"); code != 0 {
		t.Fatalf("acks=all to a topic with min.insync.replicas=1: code %d", code)
	}

	static := describe(t, cl, kmsg.ConfigResourceTypeTopic, "static", "min.insync.replicas", "retention.ms", "cleanup.policy")
	wantConfig(t, "static", static, "min.insync.replicas", "2", kmsg.ConfigSourceStaticBrokerConfig,
		"min.insync.replicas=2@STATIC_BROKER_CONFIG", "min.insync.replicas=1@DEFAULT_CONFIG")
	wantConfig(t, "static", static, "retention.ms", "3600000", kmsg.ConfigSourceStaticBrokerConfig,
		"log.retention.ms=3600000@STATIC_BROKER_CONFIG", "log.retention.ms=604800000@DEFAULT_CONFIG")
	wantConfig(t, "static", static, "cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig,
		"log.cleanup.policy=delete@DEFAULT_CONFIG")

	override := describe(t, cl, kmsg.ConfigResourceTypeTopic, "override", "min.insync.replicas")
	wantConfig(t, "override", override, "min.insync.replicas", "1", kmsg.ConfigSourceDynamicTopicConfig,
		"min.insync.replicas=1@DYNAMIC_TOPIC_CONFIG", "min.insync.replicas=2@STATIC_BROKER_CONFIG", "min.insync.replicas=1@DEFAULT_CONFIG")

	broker := describe(t, cl, kmsg.ConfigResourceTypeBroker, "1", "min.insync.replicas")
	wantConfig(t, "broker 1", broker, "min.insync.replicas", "2", kmsg.ConfigSourceStaticBrokerConfig,
		"min.insync.replicas=2@STATIC_BROKER_CONFIG", "min.insync.replicas=1@DEFAULT_CONFIG")
}

func createTopicWithConfig(t *testing.T, c *cluster, cl *kgo.Client, name, key, value string) {
	t.Helper()
	c.eventually(60*time.Second, "create topic "+name, func() bool {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = key, kmsg.StringPtr(value)
		rt.Configs = append(rt.Configs, cfg)
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 10000
		resp, err := req.RequestWith(context.Background(), cl)
		return err == nil && len(resp.Topics) == 1 && (resp.Topics[0].ErrorCode == 0 || resp.Topics[0].ErrorCode == kerr.TopicAlreadyExists.Code)
	})
	c.eventually(60*time.Second, "a leader for "+name, func() bool {
		ps := c.partitions(cl, name)
		return len(ps) == 1 && ps[0].ErrorCode == 0 && ps[0].Leader >= 0
	})
}

// produceAcksAll sends one acks=all batch to partition 0 of topic and returns the
// partition's error code, retrying while the leader is not ready to take it.
func produceAcksAll(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	batch, err := record.BuildValues(record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: time.Now().UnixMilli()}.NoProducer(), []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = 0, batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), cl)
		code := int16(-1)
		if err == nil && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
			code = resp.Topics[0].Partitions[0].ErrorCode
		}
		retry := code == -1 || code == kerr.NotLeaderForPartition.Code || code == kerr.LeaderNotAvailable.Code ||
			code == kerr.UnknownTopicOrPartition.Code || code == kerr.RequestTimedOut.Code
		if !retry || time.Now().After(deadline) {
			return code
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describe asks the broker for some configs of one resource, with synonyms.
func describe(t *testing.T, cl *kgo.Client, typ kmsg.ConfigResourceType, name string, keys ...string) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.ConfigNames = typ, name, keys
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || len(resp.Resources) != 1 {
		t.Fatalf("describe %s: %v", name, err)
	}
	res := resp.Resources[0]
	if res.ErrorCode != 0 {
		t.Fatalf("describe %s: code %d (%v)", name, res.ErrorCode, res.ErrorMessage)
	}
	return res
}

func wantConfig(t *testing.T, what string, r kmsg.DescribeConfigsResponseResource, name, value string, source kmsg.ConfigSource, synonyms ...string) {
	t.Helper()
	for _, c := range r.Configs {
		if c.Name != name {
			continue
		}
		var got []string
		for _, s := range c.ConfigSynonyms {
			got = append(got, fmt.Sprintf("%s=%s@%s", s.Name, *s.Value, s.Source))
		}
		if c.Value == nil || *c.Value != value || c.Source != source || !slices.Equal(got, synonyms) {
			t.Errorf("%s %s: value %v, source %s, synonyms %q; want %s, %s, %q", what, name, deref(c.Value), c.Source, got, value, source, synonyms)
		}
		return
	}
	t.Errorf("%s: %s not described", what, name)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
