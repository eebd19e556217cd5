package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// seedlog cluster reassign and decommission: partition moves (AlterPartitionReassignments
// and ListPartitionReassignments through kadm) and UnregisterBroker.

const reassignSynopsis = `seedlog cluster reassign --topic NAME [--partition P] (--replicas ID,ID,... | --cancel) [--no-wait | --throttle B]
       seedlog cluster reassign --list [--topic NAME]
  moves the partitions of --topic (or one of them) to the brokers --replicas lists, the
  first of which becomes the preferred leader; the new replicas copy the log and join
  the ISR before the old ones leave. Waits, with a progress bar, until every move is
  done or --timeout passes (--no-wait: returns once the moves started). --throttle sets
  the cluster's leader.replication.throttled.rate to B bytes per second while it waits,
  and removes it once every move is done. --cancel puts moving partitions back on their
  replicas from before; --list shows the moves under way.`

const decommissionSynopsis = `seedlog cluster decommission --broker ID [--no-wait | --throttle B]
  moves every replica off broker ID (each to the broker holding the fewest replicas),
  waits until the moves are done, then unregisters the broker if it is stopped; if it
  still runs, stop it and run the command again to unregister it.`

func clusterReassign(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("cluster reassign", flag.ContinueOnError)
	s.o.register(fs)
	topic := fs.String("topic", "", "the topic to move")
	part := fs.Int("partition", -1, "only this partition of --topic")
	replicasFlag := fs.String("replicas", "", "the target brokers, comma-separated, preferred leader first")
	cancelMoves := fs.Bool("cancel", false, "cancel the moves of the partitions instead")
	list := fs.Bool("list", false, "list the moves under way")
	noWait := fs.Bool("no-wait", false, "return once the moves started")
	throttle := fs.Int64("throttle", 0, "leader.replication.throttled.rate (bytes per second) while the moves run")
	pos, code, ok := s.o.parse(fs, args, reassignSynopsis)
	if !ok {
		return code
	}
	var replicas []int32
	if *replicasFlag != "" {
		var err error
		if replicas, err = parseBrokerIDs(*replicasFlag); err != nil {
			return usageError("cluster reassign: --replicas: %v", err)
		}
	}
	actions := 0
	for _, on := range []bool{replicas != nil, *cancelMoves, *list} {
		if on {
			actions++
		}
	}
	switch {
	case len(pos) > 0:
		return usageError("cluster reassign: unexpected argument %q; usage: %s", pos[0], reassignSynopsis)
	case actions != 1:
		return usageError("cluster reassign: want exactly one of --replicas, --cancel and --list")
	case !*list && *topic == "":
		return usageError("cluster reassign: --replicas and --cancel need --topic")
	case *part != -1 && *topic == "":
		return usageError("cluster reassign: --partition needs --topic")
	case *part < -1 || *part > 1<<31-1:
		return usageError("cluster reassign: --partition %d is not a partition", *part)
	case *throttle < 0 || (*throttle > 0 && (*noWait || replicas == nil)):
		return usageError("cluster reassign: --throttle wants a positive rate, --replicas, and waiting (no --no-wait)")
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	set, code := s.partitionSet(ctx, *topic, *part)
	if code != exitOK {
		return code
	}
	if *list {
		return s.printMoves(ctx, set)
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	for _, tp := range set.Sorted() {
		for _, p := range tp.Partitions {
			req.Assign(tp.Topic, p, replicas) // nil replicas cancel
		}
	}
	return s.moveAndWait(ctx, req, set, *noWait || *cancelMoves, *throttle)
}

// moveAndWait starts the moves of req and, unless noWait, waits until the partitions
// of set settle, under a replication throttle of the given rate when it is positive.
func (s *adminSession) moveAndWait(ctx context.Context, req kadm.AlterPartitionAssignmentsReq, set kadm.TopicsSet, noWait bool, throttle int64) int {
	if throttle > 0 {
		if code := s.setThrottle(ctx, strconv.FormatInt(throttle, 10)); code != exitOK {
			return code
		}
	}
	if code := s.alterAssignments(ctx, req); code != exitOK || noWait {
		return code
	}
	code := s.waitMoves(ctx, set)
	if throttle > 0 && code == exitOK {
		return s.setThrottle(ctx, "")
	}
	if throttle > 0 {
		fmt.Fprintf(os.Stderr, "seedlog: %s=%d stays set while the moves go on\n", metadata.ReplicationThrottleConfig, throttle)
	}
	return code
}

// setThrottle sets the cluster-wide leader.replication.throttled.rate, or removes it
// when rate is empty.
func (s *adminSession) setThrottle(ctx context.Context, rate string) int {
	c := kadm.AlterConfig{Op: kadm.DeleteConfig, Name: metadata.ReplicationThrottleConfig}
	if rate != "" {
		c.Op, c.Value = kadm.SetConfig, &rate
	}
	res, err := s.adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{c})
	if err == nil && len(res) > 0 && res[0].Err != nil {
		err = fmt.Errorf("%w: %s", res[0].Err, res[0].ErrMessage)
	}
	if err != nil {
		return problem("%s", requestError("set "+metadata.ReplicationThrottleConfig, err))
	}
	if rate == "" {
		fmt.Printf("%s removed\n", metadata.ReplicationThrottleConfig)
	} else {
		fmt.Printf("%s=%s until the moves are done\n", metadata.ReplicationThrottleConfig, rate)
	}
	return exitOK
}

// parseBrokerIDs parses a comma-separated list of broker ids.
func parseBrokerIDs(v string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a broker id", f)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

// partitionSet resolves --topic and --partition into partitions; every partition of
// every topic when topic is empty.
func (s *adminSession) partitionSet(ctx context.Context, topic string, part int) (kadm.TopicsSet, int) {
	set := kadm.TopicsSet{}
	if topic != "" && part >= 0 {
		set.Add(topic, int32(part))
		return set, exitOK
	}
	var names []string
	if topic != "" {
		names = []string{topic}
	}
	details, err := s.adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, problem("%s", requestError("describe topics", err))
	}
	if topic != "" {
		d, found := details[topic]
		if !found || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return nil, refused("topic %s does not exist; seedlog topic list shows the topics", topic)
		}
	}
	for name, d := range details {
		for p := range d.Partitions {
			set.Add(name, p)
		}
	}
	return set, exitOK
}

// alterAssignments sends the moves and prints one line per partition; exitFailed when
// any was refused.
func (s *adminSession) alterAssignments(ctx context.Context, req kadm.AlterPartitionAssignmentsReq) int {
	res, err := s.adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return problem("%s", requestError("reassign", err))
	}
	exit := exitOK
	for _, r := range res.Sorted() {
		if r.Err != nil {
			msg := r.Err.Error()
			if r.ErrMessage != "" {
				msg += ": " + r.ErrMessage
			}
			fmt.Fprintf(os.Stderr, "seedlog: %s-%d: %s\n", r.Topic, r.Partition, msg)
			exit = exitFailed
			continue
		}
		fmt.Printf("%s-%d: %s\n", r.Topic, r.Partition, describeTarget(req[r.Topic][r.Partition]))
	}
	return exit
}

func describeTarget(replicas []int32) string {
	if replicas == nil {
		return "move cancelled"
	}
	return fmt.Sprintf("moving to %v", replicas)
}

// printMoves lists the moves under way among set.
func (s *adminSession) printMoves(ctx context.Context, set kadm.TopicsSet) int {
	res, err := s.adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return problem("%s", requestError("list reassignments", err))
	}
	sorted := res.Sorted()
	if len(sorted) == 0 {
		fmt.Println("no partition is moving")
		return exitOK
	}
	for _, r := range sorted {
		fmt.Printf("%s-%d: replicas %v, adding %v, removing %v\n", r.Topic, r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas)
	}
	return exitOK
}

// waitMoves waits until no partition of set is moving, showing a progress bar on a
// terminal; exitFailed when the deadline passes first.
func (s *adminSession) waitMoves(ctx context.Context, set kadm.TopicsSet) int {
	total := 0
	for _, ps := range set {
		total += len(ps)
	}
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("partitions settled"),
		progressbar.OptionSetVisibility(isTerminal(os.Stderr)), progressbar.OptionClearOnFinish())
	defer bar.Close()
	for {
		res, err := s.adm.ListPartitionReassignments(ctx, set)
		if err == nil {
			moving := 0
			for _, ps := range res {
				moving += len(ps)
			}
			_ = bar.Set(total - moving)
			if moving == 0 {
				fmt.Printf("every move done (%d partitions)\n", total)
				return exitOK
			}
		}
		select {
		case <-ctx.Done():
			msg := "moves still under way when --timeout passed; seedlog cluster reassign --list shows them, and they go on"
			if err != nil {
				msg = requestError("list reassignments", err)
			}
			return refused("%s", msg)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func clusterDecommission(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("cluster decommission", flag.ContinueOnError)
	s.o.register(fs)
	broker := fs.Int("broker", -1, "the broker to decommission")
	noWait := fs.Bool("no-wait", false, "return once the moves started")
	throttle := fs.Int64("throttle", 0, "leader.replication.throttled.rate (bytes per second) while the moves run")
	pos, code, ok := s.o.parse(fs, args, decommissionSynopsis)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return usageError("cluster decommission: unexpected argument %q; usage: %s", pos[0], decommissionSynopsis)
	case *broker < 0 || *broker > 1<<31-1:
		return usageError("cluster decommission: want --broker ID")
	case *throttle < 0 || (*throttle > 0 && *noWait):
		return usageError("cluster decommission: --throttle wants a positive rate and waiting (no --no-wait)")
	}
	id := int32(*broker)
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	m, err := s.adm.Metadata(ctx)
	if err != nil {
		return problem("%s", requestError("describe the cluster", err))
	}
	req, set, why := planDecommission(m, id)
	if why != "" {
		return refused("%s", why)
	}
	if len(set) > 0 {
		if code := s.moveAndWait(ctx, req, set, *noWait, *throttle); code != exitOK || *noWait {
			return code
		}
	}
	return s.unregister(ctx, id)
}

// planDecommission moves every replica on broker id to the broker, among those not
// already holding the partition, that holds the fewest replicas (counting the moves
// planned before it); the replica keeps its place in the list.
func planDecommission(m kadm.Metadata, id int32) (kadm.AlterPartitionAssignmentsReq, kadm.TopicsSet, string) {
	load := map[int32]int{}
	var others []int32
	for _, b := range m.Brokers {
		if b.NodeID != id {
			load[b.NodeID] = 0
			others = append(others, b.NodeID)
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i] < others[j] })
	for _, t := range m.Topics {
		for _, p := range t.Partitions {
			for _, r := range p.Replicas {
				if _, ok := load[r]; ok {
					load[r]++
				}
			}
		}
	}
	req, set := kadm.AlterPartitionAssignmentsReq{}, kadm.TopicsSet{}
	for _, t := range m.Topics.Sorted() {
		for _, p := range t.Partitions.Sorted() {
			at := slices.Index(p.Replicas, id)
			if at < 0 {
				continue
			}
			best := int32(-1)
			for _, b := range others {
				if !slices.Contains(p.Replicas, b) && (best < 0 || load[b] < load[best]) {
					best = b
				}
			}
			if best < 0 {
				return nil, nil, fmt.Sprintf("%s-%d has a replica on every other broker: start another broker first, or lower its replication factor with seedlog cluster reassign", t.Topic, p.Partition)
			}
			target := slices.Clone(p.Replicas)
			target[at] = best
			load[best]++
			req.Assign(t.Topic, p.Partition, target)
			set.Add(t.Topic, p.Partition)
		}
	}
	return req, set, ""
}

// unregister removes broker id's registration, or says why it cannot yet.
func (s *adminSession) unregister(ctx context.Context, id int32) int {
	req := kmsg.NewPtrUnregisterBrokerRequest()
	req.BrokerID = id
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return problem("%s", requestError("unregister broker", err))
	}
	if err := codeError(resp.ErrorCode, resp.ErrorMessage); err != nil {
		if strings.Contains(err.Error(), "is running") {
			fmt.Printf("broker %d holds no replicas; stop it, then run seedlog cluster decommission --broker %d again to unregister it\n", id, id)
			return exitOK
		}
		return refused("unregister broker %d: %v", id, err)
	}
	fmt.Printf("broker %d holds no replicas and is unregistered\n", id)
	return exitOK
}
