package kafka

// Produce, key 0, versions 0-12.
//
// Deviations from Apache Kafka:
//   - Versions 0-2 carry the pre-v2 message format, which seedlog does not store: every
//     partition is answered UNSUPPORTED_FOR_MESSAGE_FORMAT. (They are advertised only so
//     that librdkafka 2.0.x enables compression.)
//   - acks=1 and acks=all wait for fsync (log.flush=sync, the default): acks=1 for the
//     leader's, acks=all for the ISR's. Kafka acknowledges from the page cache.
//   - The answer to a retried duplicate of an idempotent batch on a LogAppendTime topic
//     carries LogAppendTime -1: the producer state does not keep the time it was stamped.
//   - A transactional batch that would open its producer's transaction on the partition
//     is appended only once the producer's transaction coordinator said the transaction
//     is Ongoing with the partition (KIP-890 part 1, core/verify.go). A refusal is
//     answered TRANSACTION_ABORTABLE at v11 and INVALID_TXN_STATE below, as Kafka 3.8+
//     answers a coordinator's refusal; Kafka answers INVALID_TXN_STATE at every version
//     when the marker lands between the verification and the append, seedlog the same
//     as a refusal. A coordinator that cannot answer now is NOT_ENOUGH_REPLICAS (Kafka's
//     choice: clients retry it without a metadata refresh).
//   - v12 (KIP-890 part 2) is served on a broker at transaction.version 2: a
//     transactional batch that would open its producer's transaction on the partition
//     makes the leader ask the coordinator to add the partition (AddPartitionsToTxn v5
//     for brokers) instead of verifying, as Kafka 4.0's ReplicaManager does; the client
//     sent no AddPartitionsToTxn. The same guard as verification holds the append. On a
//     version-1 broker, v12 is served as v11.
//   - v10+ leader hints (CurrentLeader, NodeEndpoints) are not filled in; clients refresh
//     metadata on NOT_LEADER_OR_FOLLOWER instead.

import (
	"time"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce appends each partition's batch through its replica and answers once every
// partition has an outcome. acks=0 gets no response at all: reply(nil).
func Produce(b Broker, req *kmsg.ProduceRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.SetVersion(req.GetVersion())
	var global int16 // an error for every partition
	switch {
	case req.GetVersion() < 3:
		global = codeUnsupportedForMessageFormat
	case req.TransactionID != nil && *req.TransactionID != "":
		// WRITE on the transactional id, as Kafka asks of transactional producers.
		global = b.View().Check(acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionID)
	case req.Acks != -1 && req.Acks != 0 && req.Acks != 1:
		global = codeInvalidRequiredAcks
	}
	pending := 1 // released by the loop itself, so a synchronous answer cannot finish early
	finish := func() {
		if pending--; pending == 0 {
			if req.Acks == 0 {
				reply(nil)
				return
			}
			reply(resp)
		}
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	txnID := ""
	if req.TransactionID != nil {
		txnID = *req.TransactionID
	}
	implicitAdd := txnID != "" && TxnV2Request(0, req.GetVersion(), b.TxnVersion())
	v := b.View()
	for _, t := range req.Topics {
		topicCode := global
		if topicCode == 0 {
			topicCode = v.CheckTopic(acl.OpWrite, t.Topic) // WRITE on the topic
		}
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))
		resp.Topics = append(resp.Topics, rt)
		parts := resp.Topics[len(resp.Topics)-1].Partitions
		for i, p := range t.Partitions {
			out := &parts[i]
			*out = kmsg.NewProduceResponseTopicPartition()
			out.Partition, out.BaseOffset, out.LogAppendTime, out.LogStartOffset = p.Partition, -1, -1, -1
			if code := produceCheck(b, req, t.Topic, p, topicCode); code != 0 {
				out.ErrorCode = code
				continue
			}
			pending++
			b.Replica(t.Topic, p.Partition).Produce(b.Now(), txnID, implicitAdd, p.Records, req.Acks, timeout, func(r partition.ProduceResult) {
				out.ErrorCode, out.BaseOffset, out.LogStartOffset = r.Err, r.BaseOffset, r.LogStartOffset
				if r.Err == codeInvalidTxnState && req.GetVersion() >= 11 {
					out.ErrorCode = codeTransactionAbortable
				}
				if r.AppendTimeMs > 0 {
					out.LogAppendTime = r.AppendTimeMs
				}
				if r.Err != 0 {
					out.BaseOffset = -1
				}
				finish()
			})
		}
	}
	finish()
}

// produceCheck returns the error of a partition that never reaches its replica.
func produceCheck(b Broker, req *kmsg.ProduceRequest, topic string, p kmsg.ProduceRequestTopicPartition, global int16) int16 {
	if global != 0 {
		return global
	}
	if b.Replica(topic, p.Partition) == nil {
		return partErr(b.View(), topic, p.Partition)
	}
	// zstd needs produce v7 (KIP-110): an older client could not read it back.
	if h, err := record.ParseHeader(p.Records); err == nil && h.Codec() == record.CodecZstd && req.GetVersion() < 7 {
		return codeUnsupportedCompressionType
	}
	return 0
}
