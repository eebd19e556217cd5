package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Admin commands built on franz-go's kadm: topic add-partitions, delete-records and
// describe --configs, group delete, cluster describe and log-dirs (topic alter-config is
// in topic.go).

// adminSession is an admin command's client options and, once open, its clients.
type adminSession struct {
	o   clientOptions
	cl  *kgo.Client
	adm *kadm.Client
}

func (s *adminSession) open() int {
	cl, err := s.o.client()
	if err != nil {
		return problem("%v", err)
	}
	s.cl, s.adm = cl, kadm.NewClient(cl)
	return exitOK
}

func (s *adminSession) close() {
	if s.cl != nil {
		s.cl.Close()
	}
}

func topicAddPartitions(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("topic add-partitions", flag.ContinueOnError)
	s.o.register(fs)
	total := fs.Int("partitions", 0, "the topic's new partition count (more than it has)")
	const synopsis = "seedlog topic add-partitions NAME --partitions N"
	pos, code, ok := s.o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) != 1 || *total < 1 {
		return usageError("topic add-partitions: want one topic and --partitions N; usage: %s", synopsis)
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	resps, err := s.adm.UpdatePartitions(ctx, *total, pos[0])
	if err != nil {
		return problem("%s", requestError("add partitions to "+pos[0], err))
	}
	for _, r := range resps {
		if r.Err != nil {
			return refused("add partitions to %s: %v%s", r.Topic, r.Err, messageSuffix(r.ErrMessage))
		}
	}
	fmt.Printf("topic %s now has %d partitions\n", pos[0], *total)
	return exitOK
}

func topicDeleteRecords(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("topic delete-records", flag.ContinueOnError)
	s.o.register(fs)
	before := fs.Int64("before", -1, "delete the records below this offset (-1: every record, up to the high watermark)")
	partition := fs.Int("partition", -1, "only this partition (default: every partition)")
	const synopsis = "seedlog topic delete-records NAME [--before OFFSET] [--partition P]"
	pos, code, ok := s.o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) != 1 || *before < -1 || *partition > math.MaxInt32 {
		return usageError("topic delete-records: want one topic and an offset of -1 or more; usage: %s", synopsis)
	}
	topic := pos[0]
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	if code := checkTopicExists(&s.o, s.cl, "delete records", topic, int32(*partition)); code != exitOK {
		return code
	}
	ctx, cancel := s.o.ctx()
	defer cancel()
	ends, err := s.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return problem("%s", requestError("end offsets of "+topic, err))
	}
	var offsets kadm.Offsets
	ends.Each(func(e kadm.ListedOffset) {
		if *partition >= 0 && e.Partition != int32(*partition) {
			return
		}
		to := *before
		if to < 0 {
			to = e.Offset
		}
		offsets.Add(kadm.Offset{Topic: topic, Partition: e.Partition, At: to, LeaderEpoch: -1})
	})
	if len(offsets) == 0 {
		return refused("delete records: topic %s has no partition %d", topic, *partition)
	}
	resps, err := s.adm.DeleteRecords(ctx, offsets)
	if err != nil {
		return problem("%s", requestError("delete records of "+topic, err))
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tLOG-START-OFFSET")
	exit := exitOK
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			fmt.Fprintf(os.Stderr, "seedlog: delete records of %s/%d: %v\n", r.Topic, r.Partition, r.Err)
			exit = exitFailed
			continue
		}
		fmt.Fprintf(w, "%s\t%d\t%d\n", r.Topic, r.Partition, r.LowWatermark)
	}
	w.Flush()
	return exit
}

// printTopicConfigs prints each topic's configs in force: value and where it comes from
// (the topic's own, the cluster's default, the broker's static setting, built in).
func printTopicConfigs(o *clientOptions, cl *kgo.Client, topics []string) int {
	ctx, cancel := o.ctx()
	defer cancel()
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return problem("%s", requestError("describe configs", err))
	}
	slices.SortFunc(rcs, func(a, b kadm.ResourceConfig) int { return strings.Compare(a.Name, b.Name) })
	exit := exitOK
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, rc := range rcs {
		if rc.Err != nil {
			fmt.Fprintf(os.Stderr, "seedlog: configs of topic %s: %v\n", rc.Name, rc.Err)
			exit = exitFailed
			continue
		}
		fmt.Fprintf(w, "Configs of %s:\n", rc.Name)
		slices.SortFunc(rc.Configs, func(a, b kadm.Config) int { return strings.Compare(a.Key, b.Key) })
		for _, c := range rc.Configs {
			fmt.Fprintf(w, "\t%s\t%s\t%s\n", c.Key, orDash(deref(c.Value)), strings.ToLower(c.Source.String()))
		}
	}
	w.Flush()
	return exit
}

func groupDelete(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("group delete", flag.ContinueOnError)
	s.o.register(fs)
	const synopsis = "seedlog group delete GROUP [GROUP ...]"
	pos, code, ok := s.o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError("group delete: want at least one group; usage: %s", synopsis)
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	resps, err := s.adm.DeleteGroups(ctx, pos...)
	if err != nil {
		return problem("%s", requestError("delete groups", err))
	}
	exit := exitOK
	for _, g := range pos {
		r := resps[g]
		if r.Err != nil {
			fmt.Fprintf(os.Stderr, "seedlog: delete group %s: %v%s\n", g, r.Err, groupDeleteHint(r.Err))
			exit = exitFailed
			continue
		}
		fmt.Printf("deleted group %s\n", g)
	}
	return exit
}

// groupDeleteHint says what to do about a refused group deletion.
func groupDeleteHint(err error) string {
	switch {
	case strings.Contains(err.Error(), "NON_EMPTY_GROUP"):
		return " (stop its consumers first)"
	case strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND"):
		return " (seedlog group list shows the groups)"
	}
	return ""
}

const clusterSynopsis = `seedlog cluster describe
       seedlog cluster log-dirs [--topic T]...
       ` + electSynopsis + `
       ` + reassignSynopsis + `
       ` + decommissionSynopsis + `
  describe lists the brokers, the active controller and the controller quorum (its
  leader, epoch and each voter's lag behind the leader's log); log-dirs lists, per
  broker, its data directory and the size and offset lag of every partition replica it
  holds (--topic: only those topics). Every subcommand takes -b/--brokers host:port
  (default: the running dev cluster)`

func clusterCommand(args []string) int {
	if len(args) == 0 {
		return usageError("cluster: want a subcommand (describe, log-dirs, elect-leaders, reassign, decommission); see seedlog cluster -h")
	}
	switch args[0] {
	case "describe":
		return clusterDescribe(args[1:])
	case "log-dirs":
		return clusterLogDirs(args[1:])
	case "elect-leaders":
		return clusterElectLeaders(args[1:])
	case "reassign":
		return clusterReassign(args[1:])
	case "decommission":
		return clusterDecommission(args[1:])
	case "-h", "--help", "help":
		fmt.Println("usage: " + clusterSynopsis)
		return exitOK
	}
	return usageError("cluster: unknown subcommand %q (want describe, log-dirs, elect-leaders, reassign or decommission)", args[0])
}

func clusterDescribe(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("cluster describe", flag.ContinueOnError)
	s.o.register(fs)
	pos, code, ok := s.o.parse(fs, args, "seedlog cluster describe")
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError("cluster describe: unexpected argument %q", pos[0])
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	m, err := s.adm.BrokerMetadata(ctx)
	if err != nil {
		return problem("%s", requestError("describe cluster", err))
	}
	fmt.Printf("Cluster: %s\tController: %d\tBrokers: %d\n", orDash(m.Cluster), m.Controller, len(m.Brokers))
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tADDRESS\tRACK")
	for _, b := range m.Brokers {
		fmt.Fprintf(w, "%d\t%s:%d\t%s\n", b.NodeID, b.Host, b.Port, orDash(deref(b.Rack)))
	}
	w.Flush()
	q, err := describeQuorum(ctx, s.cl)
	if err != nil {
		if unreachable(err) || errors.Is(err, context.DeadlineExceeded) {
			return problem("%s", requestError("describe the quorum", err))
		}
		return refused("describe the quorum: %v", err)
	}
	printQuorum(q)
	return exitOK
}

// describeQuorum asks for the controller quorum's state, retrying while no controller
// answers yet.
func describeQuorum(ctx context.Context, cl *kgo.Client) (*kmsg.DescribeQuorumResponseTopicPartition, error) {
	var part *kmsg.DescribeQuorumResponseTopicPartition
	err := retrying(ctx, func() error {
		req := kmsg.NewPtrDescribeQuorumRequest()
		t := kmsg.NewDescribeQuorumRequestTopic()
		t.Topic = "__cluster_metadata"
		t.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}
		req.Topics = []kmsg.DescribeQuorumRequestTopic{t}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := codeError(resp.ErrorCode, resp.ErrorMessage); err != nil {
			return err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return fmt.Errorf("the answer describes %d topics, want the quorum's", len(resp.Topics))
		}
		p := &resp.Topics[0].Partitions[0]
		if err := codeError(p.ErrorCode, p.ErrorMessage); err != nil {
			return err
		}
		part = p
		return nil
	})
	return part, err
}

// printQuorum prints the quorum's leader and its members, each voter's lag measured
// from the leader's log end.
func printQuorum(p *kmsg.DescribeQuorumResponseTopicPartition) {
	leaderEnd := int64(-1)
	for _, v := range p.CurrentVoters {
		if v.ReplicaID == p.LeaderID {
			leaderEnd = v.LogEndOffset
		}
	}
	fmt.Printf("\nQuorum leader: %d\tEpoch: %d\tHigh watermark: %d\tVoters: %d\tObservers: %d\n",
		p.LeaderID, p.LeaderEpoch, p.HighWatermark, len(p.CurrentVoters), len(p.Observers))
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tROLE\tLOG END\tLAG\tLAST FETCH\tLAST CAUGHT UP")
	row := func(r kmsg.DescribeQuorumResponseTopicPartitionReplicaState, role string) {
		if r.ReplicaID == p.LeaderID {
			role = "leader"
		}
		lag := "-"
		if r.LogEndOffset >= 0 && leaderEnd >= 0 {
			lag = strconv.FormatInt(max(leaderEnd-r.LogEndOffset, 0), 10)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ReplicaID, role, offsetOrDash(r.LogEndOffset), lag,
			msOrDash(r.LastFetchTimestamp), msOrDash(r.LastCaughtUpTimestamp))
	}
	for _, v := range p.CurrentVoters {
		row(v, "voter")
	}
	for _, o := range p.Observers {
		row(o, "observer")
	}
	w.Flush()
}

func offsetOrDash(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}

// msOrDash renders a Kafka timestamp in ms as a time of day, "-" when unknown.
func msOrDash(ms int64) string {
	if ms < 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("15:04:05.000Z")
}

func clusterLogDirs(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("cluster log-dirs", flag.ContinueOnError)
	s.o.register(fs)
	var topics repeatFlag
	fs.Var(&topics, "topic", "only the replicas of this topic (repeatable)")
	pos, code, ok := s.o.parse(fs, args, "seedlog cluster log-dirs")
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError("cluster log-dirs: unexpected argument %q", pos[0])
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	var set kadm.TopicsSet
	if len(topics) > 0 {
		md, err := s.adm.Metadata(ctx, topics...)
		if err != nil {
			return problem("%s", requestError("look the topics up", err))
		}
		set = kadm.TopicsSet{}
		for _, t := range topics {
			d, ok := md.Topics[t]
			if !ok || d.Err != nil {
				return refused("topic %s: %v", t, orUnknown(d.Err))
			}
			for p := range d.Partitions {
				set.Add(t, p)
			}
		}
	}
	dirs, err := s.adm.DescribeAllLogDirs(ctx, set)
	exit := exitOK
	if err != nil {
		if len(dirs) == 0 {
			return problem("%s", requestError("describe log dirs", err))
		}
		fmt.Fprintf(os.Stderr, "seedlog: some brokers did not answer: %v\n", err)
		exit = exitFailed
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "BROKER\tDIR\tTOPIC\tPARTITION\tSIZE\tOFFSET LAG")
	for _, broker := range slices.Sorted(maps.Keys(dirs)) {
		for _, dir := range slices.Sorted(maps.Keys(dirs[broker])) {
			d := dirs[broker][dir]
			if d.Err != nil {
				fmt.Fprintf(w, "%d\t%s\t%v\t\t\t\n", broker, dir, d.Err)
				exit = exitFailed
				continue
			}
			for _, p := range d.Topics.Sorted() {
				fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%d\t%d\n", broker, dir, p.Topic, p.Partition, p.Size, p.OffsetLag)
			}
		}
	}
	w.Flush()
	return exit
}

// orUnknown is err, or UNKNOWN_TOPIC_OR_PARTITION when a lookup found nothing.
func orUnknown(err error) error {
	if err == nil {
		return kerr.UnknownTopicOrPartition
	}
	return err
}

// messageSuffix renders a broker's error message after its code, if it sent one.
func messageSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}
