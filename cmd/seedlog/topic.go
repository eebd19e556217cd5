package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seedlog/seedlog/core/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const topicSynopsis = `seedlog topic create NAME [--partitions N] [--replication-factor R] [--config k=v ...]
       seedlog topic list [--internal]
       seedlog topic describe [NAME ...] [--configs]
       seedlog topic delete NAME [NAME ...]
       seedlog topic alter-config NAME (--set k=v | --delete k) ...
       seedlog topic add-partitions NAME --partitions N
       seedlog topic delete-records NAME [--before OFFSET] [--partition P]
       seedlog topic producers NAME [--partition P]
  producers lists the idempotent producers each partition's leader remembers
  (DescribeProducers); every subcommand takes -b/--brokers host:port (default: the running dev cluster)`

func topicCommand(args []string) int {
	if len(args) == 0 {
		return usageError("topic: want a subcommand (create, list, describe, delete, alter-config, add-partitions, delete-records, producers); see seedlog topic -h")
	}
	switch args[0] {
	case "create":
		return topicCreate(args[1:])
	case "list":
		return topicList(args[1:])
	case "describe":
		return topicDescribe(args[1:])
	case "delete":
		return topicDelete(args[1:])
	case "alter-config":
		return topicAlterConfig(args[1:])
	case "add-partitions":
		return topicAddPartitions(args[1:])
	case "delete-records":
		return topicDeleteRecords(args[1:])
	case "producers":
		return topicProducers(args[1:])
	case "-h", "--help", "help":
		fmt.Println("usage: " + topicSynopsis)
		return exitOK
	}
	return usageError("topic: unknown subcommand %q (want create, list, describe, delete, alter-config, add-partitions, delete-records, producers)", args[0])
}

func topicProducers(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("topic producers", flag.ContinueOnError)
	s.o.register(fs)
	part := fs.Int("partition", -1, "only this partition")
	const synopsis = "seedlog topic producers NAME [--partition P]"
	pos, code, ok := s.o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) != 1 || *part < -1 || *part > math.MaxInt32 {
		return usageError("topic producers: want one topic and at most one partition; usage: %s", synopsis)
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	set, code := s.partitionSet(ctx, pos[0], *part)
	if code != exitOK {
		return code
	}
	res, err := s.adm.DescribeProducers(ctx, set)
	if err != nil {
		return problem("%s", requestError("describe producers", err))
	}
	exit := exitOK
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PARTITION\tPRODUCER-ID\tEPOCH\tLAST-SEQUENCE\tLAST-TIMESTAMP")
	for _, t := range res.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			if p.Err != nil {
				fmt.Fprintf(os.Stderr, "seedlog: %s-%d: %v\n", t.Topic, p.Partition, p.Err)
				exit = exitFailed
				continue
			}
			for _, pr := range p.ActiveProducers.Sorted() {
				when := "-"
				if pr.LastTimestamp >= 0 {
					when = time.UnixMilli(pr.LastTimestamp).UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%s\n", p.Partition, pr.ProducerID, pr.ProducerEpoch, pr.LastSequence, when)
			}
		}
	}
	w.Flush()
	return exit
}

func topicCreate(args []string) int {
	fs := flag.NewFlagSet("topic create", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	partitions := fs.Int("partitions", -1, "number of partitions (default: the cluster's num.partitions)")
	rf := fs.Int("replication-factor", -1, "replicas per partition (default: the cluster's default.replication.factor)")
	var configs repeatFlag
	fs.Var(&configs, "config", "a topic config key=value (repeatable), e.g. --config retention.ms=3600000")
	var named repeatFlag
	fs.Var(&named, "topic", "topic name, as kafka-topics.sh spells it (repeatable)")
	pos, code, ok := o.parse(fs, args, "seedlog topic create NAME [--partitions N] [--replication-factor R] [--config k=v ...]")
	pos = append(pos, named...)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError("topic create: want one topic name, got %d arguments", len(pos))
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = pos[0], int32(*partitions), int16(*rf)
	for _, kv := range configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usageError("topic create: --config %q: want key=value", kv)
		}
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		t.Configs = append(t.Configs, c)
	}
	req.Topics = append(req.Topics, t)
	cl, err := o.client()
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	ctx, cancel := o.ctx()
	defer cancel()
	req.TimeoutMillis = int32(o.timeout.Milliseconds())
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return problem("%s", requestError("create topic "+pos[0], err))
	}
	for _, rt := range resp.Topics {
		if err := codeError(rt.ErrorCode, rt.ErrorMessage); err != nil {
			fmt.Fprintf(os.Stderr, "seedlog: create topic %s: %v\n", rt.Topic, err)
			return exitFailed
		}
		fmt.Printf("created topic %s (%d partitions, replication factor %d)\n", rt.Topic, rt.NumPartitions, rt.ReplicationFactor)
		warnBelowMinISR(ctx, cl, rt.Topic, int(rt.ReplicationFactor))
	}
	return exitOK
}

// warnBelowMinISR warns when a topic's replication factor is below the
// min.insync.replicas in force for it: no acks=all write to it can succeed.
func warnBelowMinISR(ctx context.Context, cl *kgo.Client, topic string, rf int) {
	// The broker asked may learn of the new topic a moment after the controller made it.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var configs kadm.ResourceConfigs
	err := retrying(ctx, func() error {
		var err error
		if configs, err = kadm.NewClient(cl).DescribeTopicConfigs(ctx, topic); err == nil && len(configs) == 1 {
			err = configs[0].Err
		}
		return err
	})
	if err != nil || len(configs) != 1 {
		return
	}
	for _, c := range configs[0].Configs {
		if c.Key != "min.insync.replicas" || c.Value == nil {
			continue
		}
		if minISR, err := strconv.Atoi(*c.Value); err == nil && rf > 0 && rf < minISR {
			fmt.Fprintf(os.Stderr, "seedlog: warning: topic %s: replication factor %d is below its min.insync.replicas=%d, so acks=all writes "+
				"(seedlog produce's default, and most clients') will fail with NOT_ENOUGH_REPLICAS; lower it (seedlog topic alter-config %s --set min.insync.replicas=%d) "+
				"or create the topic with --replication-factor %d or more\n", topic, rf, minISR, topic, rf, minISR)
		}
	}
}

func topicAlterConfig(args []string) int {
	fs := flag.NewFlagSet("topic alter-config", flag.ContinueOnError)
	var s adminSession
	s.o.register(fs)
	var sets, deletes repeatFlag
	fs.Var(&sets, "set", "a topic config key=value to set (repeatable)")
	fs.Var(&deletes, "delete", "a topic config key to remove, back to the cluster's value (repeatable)")
	const synopsis = "seedlog topic alter-config NAME (--set k=v | --delete k) ..."
	pos, code, ok := s.o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) != 1 || len(sets)+len(deletes) == 0 {
		return usageError("topic alter-config: want one topic and at least one --set or --delete; usage: %s", synopsis)
	}
	var alters []kadm.AlterConfig
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError("topic alter-config: --set %q: want key=value", kv)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kmsg.StringPtr(v)})
	}
	for _, k := range deletes {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	resps, err := s.adm.AlterTopicConfigs(ctx, alters, pos[0])
	if err != nil {
		return problem("%s", requestError("alter configs of topic "+pos[0], err))
	}
	for _, r := range resps {
		if r.Err != nil {
			return refused("alter configs of topic %s: %v%s", r.Name, r.Err, messageSuffix(r.ErrMessage))
		}
	}
	fmt.Printf("altered topic %s: %s\n", pos[0], strings.Join(append(slices.Clone(sets), prefixed("-", deletes)...), " "))
	return exitOK
}

// prefixed returns each of s behind prefix.
func prefixed(prefix string, s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = prefix + v
	}
	return out
}

func topicList(args []string) int {
	fs := flag.NewFlagSet("topic list", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	internal := fs.Bool("internal", false, "list internal topics (__consumer_offsets) too")
	pos, code, ok := o.parse(fs, args, "seedlog topic list [--internal]")
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError("topic list: unexpected argument %q", pos[0])
	}
	meta, code := fetchMetadata(&o, nil)
	if meta == nil {
		return code
	}
	var names []string
	for _, t := range meta.Topics {
		if t.Topic != nil && (*internal || !t.IsInternal) {
			names = append(names, *t.Topic)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Println(n)
	}
	return exitOK
}

func topicDescribe(args []string) int {
	var o clientOptions
	fs := flag.NewFlagSet("topic describe", flag.ContinueOnError)
	o.register(fs)
	var named repeatFlag
	fs.Var(&named, "topic", "topic name, as kafka-topics.sh spells it (repeatable)")
	configs := fs.Bool("configs", false, "list each topic's configs in force and where each comes from, instead of its partitions")
	pos, code, ok := o.parse(fs, args, "seedlog topic describe [NAME ...] [--configs]")
	if !ok {
		return code
	}
	pos = append(pos, named...)
	cl, err := o.client()
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	if *configs {
		if len(pos) == 0 {
			return usageError("topic describe --configs: name the topics")
		}
		return printTopicConfigs(&o, cl, pos)
	}
	meta, code := requestMetadata(&o, cl, pos)
	if meta == nil {
		return code
	}
	fenced := fencedRanges(&o, cl, meta)
	slices.SortFunc(meta.Topics, func(a, b kmsg.MetadataResponseTopic) int { return strings.Compare(deref(a.Topic), deref(b.Topic)) })
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	exit := exitOK
	for _, t := range meta.Topics {
		if err := codeError(t.ErrorCode, nil); err != nil {
			fmt.Fprintf(os.Stderr, "seedlog: topic %s: %v\n", deref(t.Topic), err)
			exit = exitFailed
			continue
		}
		slices.SortFunc(t.Partitions, func(a, b kmsg.MetadataResponseTopicPartition) int { return int(a.Partition - b.Partition) })
		rf := 0
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].Replicas)
		}
		fmt.Fprintf(w, "Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tInternal: %v\n", deref(t.Topic), len(t.Partitions), rf, t.IsInternal)
		for _, p := range t.Partitions {
			fmt.Fprintf(w, "\tPartition: %d\tLeader: %d\tEpoch: %d\tReplicas: %s\tIsr: %s%s%s\n", p.Partition, p.Leader, p.LeaderEpoch,
				joinInts(p.Replicas), joinInts(p.ISR), partitionNote(p.ErrorCode), fenced.note(deref(t.Topic), p))
		}
	}
	w.Flush()
	return exit
}

// fencedByPartition holds, per "<topic>-<partition>", the fenced ranges brokers
// reported, as "broker N: [from,to) kind".
type fencedByPartition map[string][]fencedRange

type fencedRange struct {
	broker         int32
	from, to, kind string
}

// note renders the fenced ranges of a partition. A damaged range on a leader that is the
// only member of its ISR is lost: no in-sync copy of it is left to fetch it back from.
func (f fencedByPartition) note(topic string, p kmsg.MetadataResponseTopicPartition) string {
	var out []string
	for _, r := range f[fmt.Sprintf("%s-%d", topic, p.Partition)] {
		kind := r.kind
		if kind == "damaged" && r.broker == p.Leader && len(p.ISR) == 1 && p.ISR[0] == p.Leader {
			kind = "damaged, lost: no other in-sync replica"
		}
		out = append(out, fmt.Sprintf("broker %d: [%s,%s) %s", r.broker, r.from, r.to, kind))
	}
	if len(out) == 0 {
		return ""
	}
	return "\tFenced: " + strings.Join(out, "; ")
}

// fencedRanges asks every broker that hosts a replica of the described topics for the
// ranges of its replicas that hold no readable data (the read-only entry
// seedlog.fenced.ranges of its own broker resource): damaged ranges, which it fetches
// back from an intact leader, and lost ones, which answer CORRUPT_MESSAGE for good. A
// broker that does not answer is said so on stderr.
func fencedRanges(o *clientOptions, cl *kgo.Client, meta *kmsg.MetadataResponse) fencedByPartition {
	var ids []int32
	for _, t := range meta.Topics {
		for _, p := range t.Partitions {
			for _, id := range p.Replicas {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
	}
	slices.Sort(ids)
	out := fencedByPartition{}
	for _, id := range ids {
		req := kmsg.NewPtrDescribeConfigsRequest()
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, fmt.Sprint(id)
		res.ConfigNames = []string{kafka.FencedRangesConfig}
		req.Resources = append(req.Resources, res)
		ctx, cancel := o.ctx()
		resp, err := req.RequestWith(ctx, cl.Broker(int(id)))
		cancel()
		if err != nil || len(resp.Resources) != 1 {
			fmt.Fprintf(os.Stderr, "seedlog: broker %d did not say which of its ranges are fenced: %v\n", id, err)
			continue
		}
		for _, c := range resp.Resources[0].Configs {
			if c.Name != kafka.FencedRangesConfig || c.Value == nil || *c.Value == "" {
				continue
			}
			for _, item := range strings.Split(*c.Value, ",") {
				part, rest, ok := strings.Cut(item, ":")
				rng, kind, ok2 := strings.Cut(rest, ":")
				from, to, ok3 := strings.Cut(rng, "-")
				if ok && ok2 && ok3 {
					out[part] = append(out[part], fencedRange{broker: id, from: from, to: to, kind: kind})
				}
			}
		}
	}
	return out
}

func partitionNote(code int16) string {
	if err := codeError(code, nil); err != nil {
		return "\t(" + err.Error() + ")"
	}
	return ""
}

func topicDelete(args []string) int {
	var o clientOptions
	pos, code, ok := parseTopicNames(&o, "topic delete", args, "seedlog topic delete NAME [NAME ...]")
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError("topic delete: want at least one topic name")
	}
	cl, err := o.client()
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = int32(o.timeout.Milliseconds())
	req.TopicNames = pos
	for _, name := range pos {
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	ctx, cancel := o.ctx()
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return problem("%s", requestError("delete topics", err))
	}
	exit := exitOK
	for _, t := range resp.Topics {
		if err := codeError(t.ErrorCode, t.ErrorMessage); err != nil {
			fmt.Fprintf(os.Stderr, "seedlog: delete topic %s: %v\n", deref(t.Topic), err)
			exit = exitFailed
			continue
		}
		fmt.Printf("deleted topic %s\n", deref(t.Topic))
	}
	return exit
}

// fetchMetadata asks for the given topics (nil: all). On failure it returns nil and the
// exit code, after printing the error.
func fetchMetadata(o *clientOptions, topics []string) (*kmsg.MetadataResponse, int) {
	cl, err := o.client()
	if err != nil {
		return nil, problem("%v", err)
	}
	defer cl.Close()
	return requestMetadata(o, cl, topics)
}

func requestMetadata(o *clientOptions, cl *kgo.Client, topics []string) (*kmsg.MetadataResponse, int) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		for _, name := range topics {
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, t)
		}
	}
	ctx, cancel := o.ctx()
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, problem("%s", requestError("metadata", err))
	}
	return resp, exitOK
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func joinInts(v []int32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

// parseTopicNames parses the flags of a subcommand that takes topic names, as
// arguments or as kafka-topics.sh's repeatable --topic.
func parseTopicNames(o *clientOptions, name string, args []string, synopsis string) ([]string, int, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	o.register(fs)
	var named repeatFlag
	fs.Var(&named, "topic", "topic name, as kafka-topics.sh spells it (repeatable)")
	pos, code, ok := o.parse(fs, args, synopsis)
	return append(pos, named...), code, ok
}
