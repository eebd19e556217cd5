// Package metadata holds seedlog's cluster metadata: the records the controller quorum
// replicates, and the Image every broker builds from them to route requests.
//
// The quorum treats records as opaque bytes. Encode and Decode turn them into values:
// one version byte, one Kind byte, then the fields in declaration order with core/enc's
// integers, strings and lengths. Decode never panics and rejects unknown versions and
// kinds and trailing bytes.
//
// # Records and their invariants
//
// A record applies to an image only if Validate accepts it; Apply validates too. The
// node applies only committed records, so an Apply error there means the controller
// proposed something invalid: a broken invariant, not bad input.
//
//   - RegisterBroker starts a broker incarnation, fenced. Its broker epoch is the offset
//     of the record. Broker ids are non-negative; listener names are unique. An id may be
//     registered again only once its current registration is fenced, so a new
//     incarnation never replaces one that may still hold a lease.
//   - FenceBroker and UnfenceBroker flip the fenced flag and must name the current epoch.
//     Fencing an already fenced broker (or the converse) is rejected rather than ignored,
//     so every record changes something.
//   - UnregisterBroker removes a fenced broker that leads no partition.
//   - Topic adds a topic with a legal, unused name (see ValidTopicName) and a non-zero,
//     unused id. Partition records then add partitions 0, 1, 2, ... with no gap.
//   - Partition: replicas are 1..ReplicasMax distinct registered brokers; the ISR is a
//     non-empty duplicate-free subset of the replicas; the leader is NoLeader or an ISR
//     member.
//   - PartitionChange replaces the ISR (when non-nil) and/or the leader (unless
//     LeaderUnchanged), keeping the Partition rules; a new leader must be registered.
//     It must change something. It bumps PartitionEpoch, and LeaderEpoch when the leader
//     changes, to or from NoLeader included. Unlike Kafka, an ISR shrink alone never
//     bumps the leader epoch: the leader epoch names one broker's term as leader, and the
//     partition epoch already fences a leader's stale ISR update.
//   - Reassign replaces a partition's replicas (1..ReplicasMax distinct ids, every one
//     not already a replica registered) with its adding and removing lists: adding
//     and removing are distinct replicas, disjoint, and leave at least one target
//     replica. ISR and leader as in PartitionChange, checked against the new replicas;
//     it must change something, and moves the epochs as PartitionChange does.
//   - RemoveTopic deletes an existing topic with its partitions and configs.
//   - Config sets or deletes one key of an existing topic, or of a broker resource (""
//     for the cluster default, else a broker id in decimal). Deleting an unset key is
//     rejected. The keys themselves are checked by the controller against the table in
//     TopicConfigDefs, not here, so that a table change never makes an old log invalid.
//   - ProducerIDs hands out the block of producer ids from the previous NextProducerID
//     up to its own, to a registered broker at its current epoch. It only moves up, so
//     blocks never overlap.
//
// Every broker also carries a CatchUpOffset: the offset of its registration, its latest
// fencing, or the latest record that took a partition leadership away from it,
// whichever is newest. The controller unfences a broker only once the broker reports
// having applied that offset, so a broker that gets a lease back always knows which
// leaderships it lost while it was out.
//
// # The image
//
// Image is a value with structural sharing: Apply copies only what a record touches (the
// broker map for broker records, the name index for topic additions and removals, one
// of 64 topic shards and one topic's partition slice for a partition change) and leaves
// the receiver intact. ApplyBatch copies each structure once per batch. Accessors return
// copies and sorted slices, never map order.
//
// EncodeSnapshot is canonical (sorted everywhere), which makes Equal a byte comparison;
// DecodeSnapshot accepts only canonical input and rechecks every invariant.
package metadata
