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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const groupSynopsis = `seedlog group list
       seedlog group describe GROUP [GROUP ...]
       seedlog group reset-offsets GROUP (--topic T ... | --all-topics) (--to-earliest | --to-latest | --to-offset N
                                 | --to-datetime T | --shift-by N) [--execute]
       seedlog group delete-offsets GROUP --topic T [--partition P]
       seedlog group delete GROUP [GROUP ...]
  every subcommand takes -b/--brokers host:port (default: the running dev cluster)`

func groupCommand(args []string) int {
	if len(args) == 0 {
		return usageError("group: want a subcommand (list, describe, reset-offsets, delete-offsets, delete); see seedlog group -h")
	}
	switch args[0] {
	case "list":
		return groupList(args[1:])
	case "describe":
		return groupDescribe(args[1:])
	case "reset-offsets":
		return groupResetOffsets(args[1:])
	case "delete-offsets":
		return groupDeleteOffsets(args[1:])
	case "delete":
		return groupDelete(args[1:])
	case "-h", "--help", "help":
		fmt.Println("usage: " + groupSynopsis)
		return exitOK
	}
	return usageError("group: unknown subcommand %q (want list, describe, reset-offsets, delete-offsets, delete)", args[0])
}

func groupList(args []string) int {
	fs := flag.NewFlagSet("group list", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	pos, code, ok := o.parse(fs, args, "seedlog group list")
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError("group list: unexpected argument %q", pos[0])
	}
	cl, err := o.client()
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	ctx, cancel := o.ctx()
	defer cancel()
	// Every broker coordinates some groups: ask them all.
	var groups []kmsg.ListGroupsResponseGroup
	for _, shard := range cl.RequestSharded(ctx, kmsg.NewPtrListGroupsRequest()) {
		if shard.Err != nil {
			return problem("%s", requestError(fmt.Sprintf("list groups on broker %d", shard.Meta.NodeID), shard.Err))
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := codeError(resp.ErrorCode, nil); err != nil {
			return problem("list groups on broker %d: %v", shard.Meta.NodeID, err)
		}
		groups = append(groups, resp.Groups...)
	}
	slices.SortFunc(groups, func(a, b kmsg.ListGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tSTATE\tPROTOCOL-TYPE")
	for _, g := range groups {
		fmt.Fprintf(w, "%s\t%s\t%s\n", g.Group, orDash(g.GroupState), orDash(g.ProtocolType))
	}
	w.Flush()
	return exitOK
}

func groupDescribe(args []string) int {
	fs := flag.NewFlagSet("group describe", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	pos, code, ok := o.parse(fs, args, "seedlog group describe GROUP [GROUP ...]")
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return usageError("group describe: want at least one group")
	}
	cl, err := o.client()
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	exit := exitOK
	for _, g := range pos {
		if code := describeGroup(&o, cl, g); code != exitOK {
			exit = code
		}
	}
	return exit
}

// groupOffsets is one partition of a group's offsets table.
type groupOffsets struct {
	topic     string
	partition int32
	committed int64
	end       int64
	member    string
}

func describeGroup(o *clientOptions, cl *kgo.Client, group string) int {
	ctx, cancel := o.ctx()
	defer cancel()
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Groups = []string{group}
	var dg kmsg.DescribeGroupsResponseGroup
	err := retrying(ctx, func() error {
		// A coordinator still loading, or an offsets topic just created, answers with a
		// retriable code: ask again within the timeout.
		dresp, err := dreq.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if len(dresp.Groups) != 1 {
			return fmt.Errorf("%d groups in the answer", len(dresp.Groups))
		}
		dg = dresp.Groups[0]
		return codeError(dg.ErrorCode, nil)
	})
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return refused("group %s does not exist; seedlog group list shows the groups", group)
	case err != nil && dg.ErrorCode != 0:
		return refused("group %s: %v", group, err)
	case err != nil:
		return problem("%s", requestError("describe group "+group, err))
	}
	owners := assignmentOwners(dg.Members)
	rows, err := committedOffsets(ctx, cl, group)
	if err != nil {
		return problem("%s", requestError("offsets of group "+group, err))
	}
	if dg.State == "Dead" && len(rows) == 0 {
		return refused("group %s does not exist; seedlog group list shows the groups", group)
	}
	for tp := range owners {
		if !slices.ContainsFunc(rows, func(r groupOffsets) bool { return r.topic == tp.topic && r.partition == tp.partition }) {
			rows = append(rows, groupOffsets{topic: tp.topic, partition: tp.partition, committed: -1})
		}
	}
	if err := fillEndOffsets(ctx, cl, rows); err != nil {
		return problem("%s", requestError("end offsets", err))
	}
	slices.SortFunc(rows, func(a, b groupOffsets) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	fmt.Printf("Group %s: state %s, protocol %s, %d members\n", group, dg.State, orDash(dg.Protocol), len(dg.Members))
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER")
	for i := range rows {
		r := &rows[i]
		r.member = owners[topicPartition{r.topic, r.partition}]
		cur, lag := "-", "-"
		if r.committed >= 0 {
			cur = fmt.Sprint(r.committed)
			if r.end >= 0 {
				lag = fmt.Sprint(r.end - r.committed)
			}
		}
		end := "-"
		if r.end >= 0 {
			end = fmt.Sprint(r.end)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", r.topic, r.partition, cur, end, lag, orDash(r.member))
	}
	w.Flush()
	return exitOK
}

type topicPartition struct {
	topic     string
	partition int32
}

// assignmentOwners maps each assigned partition to "member-id (client-id@host)".
func assignmentOwners(members []kmsg.DescribeGroupsResponseGroupMember) map[topicPartition]string {
	out := map[topicPartition]string{}
	for _, m := range members {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(m.MemberAssignment); err != nil {
			continue // not a consumer-protocol group: nothing to show per partition
		}
		who := fmt.Sprintf("%s (%s@%s)", m.MemberID, m.ClientID, m.ClientHost)
		for _, t := range a.Topics {
			for _, p := range t.Partitions {
				out[topicPartition{t.Topic, p}] = who
			}
		}
	}
	return out
}

// committedOffsets fetches every offset a group committed.
func committedOffsets(ctx context.Context, cl *kgo.Client, group string) ([]groupOffsets, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	req.Groups = append(req.Groups, rg) // v8+ carries groups in this list
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	topics, code := resp.Topics, resp.ErrorCode
	if len(resp.Groups) == 1 {
		code = resp.Groups[0].ErrorCode
		topics = nil
		for _, t := range resp.Groups[0].Topics {
			ot := kmsg.OffsetFetchResponseTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				ot.Partitions = append(ot.Partitions, kmsg.OffsetFetchResponseTopicPartition{Partition: p.Partition, Offset: p.Offset, ErrorCode: p.ErrorCode})
			}
			topics = append(topics, ot)
		}
	}
	if err := codeError(code, nil); err != nil {
		return nil, err
	}
	var out []groupOffsets
	for _, t := range topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && p.Offset >= 0 {
				out = append(out, groupOffsets{topic: t.Topic, partition: p.Partition, committed: p.Offset})
			}
		}
	}
	return out, nil
}

// fillEndOffsets sets the log end offset (high watermark) of each row, -1 where unknown.
func fillEndOffsets(ctx context.Context, cl *kgo.Client, rows []groupOffsets) error {
	ends, err := listOffsets(ctx, cl, rowsPartitions(rows), -1)
	if err != nil {
		return err
	}
	for i := range rows {
		end, ok := ends[topicPartition{rows[i].topic, rows[i].partition}]
		rows[i].end = -1
		if ok {
			rows[i].end = end
		}
	}
	return nil
}

func rowsPartitions(rows []groupOffsets) []topicPartition {
	var out []topicPartition
	for _, r := range rows {
		out = append(out, topicPartition{r.topic, r.partition})
	}
	return out
}

// listOffsets asks the partitions' leaders for the offset at timestamp ts (-1: the end,
// -2: the start). Partitions that answered with an error are left out.
func listOffsets(ctx context.Context, cl *kgo.Client, tps []topicPartition, ts int64) (map[topicPartition]int64, error) {
	out := map[topicPartition]int64{}
	if len(tps) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	byTopic := map[string]int{}
	for _, tp := range tps {
		i, ok := byTopic[tp.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[tp.topic] = i
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = tp.topic
			req.Topics = append(req.Topics, t)
		}
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition, p.Timestamp, p.CurrentLeaderEpoch = tp.partition, ts, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				out[topicPartition{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return out, nil
}

func groupResetOffsets(args []string) int {
	fs := flag.NewFlagSet("group reset-offsets", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	var topics repeatFlag
	fs.Var(&topics, "topic", "a topic whose offsets to reset, every partition (repeatable)")
	allTopics := fs.Bool("all-topics", false, "reset every topic the group has committed offsets for")
	var m resetMode
	fs.BoolVar(&m.earliest, "to-earliest", false, "reset to each partition's log start")
	fs.BoolVar(&m.latest, "to-latest", false, "reset to each partition's end")
	fs.Int64Var(&m.offset, "to-offset", -1, "reset every partition to this offset (clamped to the log)")
	datetime := fs.String("to-datetime", "", "reset to each partition's first record at or after this time (RFC 3339, e.g. 2026-12-06T10:00:00Z)")
	shift := fs.Int64("shift-by", 0, "move each committed offset by this many records, back when negative (clamped to the log)")
	execute := fs.Bool("execute", false, "commit the new offsets (without it: only show them)")
	const synopsis = "seedlog group reset-offsets GROUP (--topic T ... | --all-topics) (--to-earliest | --to-latest | --to-offset N | --to-datetime T | --shift-by N) [--execute]"
	pos, code, ok := o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	m.shift, m.shifting = *shift, *shift != 0
	if *datetime != "" {
		t, err := time.Parse(time.RFC3339, *datetime)
		if err != nil {
			return usageError("group reset-offsets: --to-datetime %q: want RFC 3339, e.g. 2026-12-06T10:00:00Z", *datetime)
		}
		m.atMs, m.dating = t.UnixMilli(), true
	}
	if len(pos) != 1 || (len(topics) > 0) == *allTopics || m.count() != 1 {
		return usageError("group reset-offsets: want one group, --topic or --all-topics, and exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by; usage: %s", synopsis)
	}
	group := pos[0]
	cl, err := o.client()
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	ctx, cancel := o.ctx()
	defer cancel()
	if code := checkGroupInactive(ctx, cl, group); code != exitOK {
		return code
	}
	committed, err := committedOffsets(ctx, cl, group)
	if err != nil {
		return problem("%s", requestError("offsets of group "+group, err))
	}
	if *allTopics {
		for _, r := range committed {
			if !slices.Contains(topics, r.topic) {
				topics = append(topics, r.topic)
			}
		}
		if len(topics) == 0 {
			return refused("group reset-offsets: group %s has no committed offsets (--all-topics resets the topics it has)", group)
		}
	}
	meta, code := requestMetadata(&o, cl, topics)
	if meta == nil {
		return code
	}
	var tps []topicPartition
	for _, t := range meta.Topics {
		if err := codeError(t.ErrorCode, nil); err != nil {
			return refused("group reset-offsets: topic %s: %v", deref(t.Topic), err)
		}
		for _, p := range t.Partitions {
			tps = append(tps, topicPartition{deref(t.Topic), p.Partition})
		}
	}
	slices.SortFunc(tps, func(a, b topicPartition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	targets, notes := map[topicPartition]int64{}, map[topicPartition]string{}
	bar := partitionsBar(len(tps), "partitions looked up")
	for from := 0; from < len(tps); from += resetChunk {
		chunk := tps[from:min(from+resetChunk, len(tps))]
		t, n, err := resetTargets(ctx, cl, chunk, m, committed)
		if err != nil {
			return problem("%s", requestError("group reset-offsets", err))
		}
		maps.Copy(targets, t)
		maps.Copy(notes, n)
		_ = bar.Add(len(chunk))
	}
	_ = bar.Finish()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tNEW-OFFSET\tNOTE")
	var moved []topicPartition
	for _, tp := range tps {
		target, ok := targets[tp]
		if !ok {
			fmt.Fprintf(w, "%s\t%d\t-\t%s\n", tp.topic, tp.partition, notes[tp])
			continue
		}
		moved = append(moved, tp)
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", tp.topic, tp.partition, target, orDash(notes[tp]))
	}
	w.Flush()
	if !*execute {
		fmt.Println("(dry run: add --execute to commit these offsets)")
		return exitOK
	}
	if len(moved) == 0 {
		return refused("group reset-offsets: no partition to move")
	}
	bar = partitionsBar(len(moved), "offsets committed")
	for from := 0; from < len(moved); from += resetChunk {
		chunk := moved[from:min(from+resetChunk, len(moved))]
		if code := commitOffsets(ctx, cl, group, chunk, targets); code != exitOK {
			return code
		}
		_ = bar.Add(len(chunk))
	}
	_ = bar.Finish()
	fmt.Printf("committed new offsets for group %s\n", group)
	return exitOK
}

// resetChunk is how many partitions reset-offsets looks up, or commits, per request.
const resetChunk = 1000

// partitionsBar is a progress bar over n partitions, on stderr when it is a terminal
// and the work takes more than one request.
func partitionsBar(n int, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionSetVisibility(isTerminal(os.Stderr) && n > resetChunk))
}

// resetMode is where reset-offsets moves each partition: exactly one is chosen.
type resetMode struct {
	earliest, latest bool
	offset           int64 // >= 0: --to-offset
	dating           bool
	atMs             int64 // --to-datetime, ms since the epoch
	shifting         bool
	shift            int64 // --shift-by
}

func (m resetMode) count() int {
	n := 0
	for _, b := range []bool{m.earliest, m.latest, m.offset >= 0, m.dating, m.shifting} {
		if b {
			n++
		}
	}
	return n
}

// checkGroupInactive refuses to reset the offsets of a group with live members: they
// would overwrite the reset with their next commit.
func checkGroupInactive(ctx context.Context, cl *kgo.Client, group string) int {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return problem("%s", requestError("describe group "+group, err))
	}
	if len(resp.Groups) == 1 {
		g := resp.Groups[0]
		if err := codeError(g.ErrorCode, nil); err != nil {
			return problem("group %s: %v", group, err)
		}
		if g.State != "Empty" && g.State != "Dead" && g.State != "" {
			fmt.Fprintf(os.Stderr, "seedlog: group %s is %s with %d members; stop its consumers before resetting offsets\n", group, g.State, len(g.Members))
			return exitFailed
		}
	}
	return exitOK
}

// resetTargets is where each partition's offset goes: its log start, its end, the first
// offset at a time, or an offset given or shifted, clamped into [start, end] (noted), as
// Kafka's tool clamps it: an offset past the end would show a negative lag and make
// consumers reset by their own policy.
func resetTargets(ctx context.Context, cl *kgo.Client, tps []topicPartition, m resetMode, committed []groupOffsets) (map[topicPartition]int64, map[topicPartition]string, error) {
	starts, err := listOffsets(ctx, cl, tps, -2)
	if err != nil {
		return nil, nil, err
	}
	ends, err := listOffsets(ctx, cl, tps, -1)
	if err != nil {
		return nil, nil, err
	}
	var atTime map[topicPartition]int64
	if m.dating {
		if atTime, err = listOffsets(ctx, cl, tps, m.atMs); err != nil {
			return nil, nil, err
		}
	}
	out, notes := map[topicPartition]int64{}, map[topicPartition]string{}
	for _, tp := range tps {
		start, okStart := starts[tp]
		end, okEnd := ends[tp]
		if !okStart || !okEnd {
			return nil, nil, fmt.Errorf("no offsets for %s/%d (no leader?); try again", tp.topic, tp.partition)
		}
		want := m.offset
		switch {
		case m.earliest:
			want = start
		case m.latest:
			want = end
		case m.dating:
			want = end // no record at or after the time: past the last one
			if at, ok := atTime[tp]; ok && at >= 0 {
				want = at
			}
		case m.shifting:
			i := slices.IndexFunc(committed, func(r groupOffsets) bool { return r.topic == tp.topic && r.partition == tp.partition })
			if i < 0 || committed[i].committed < 0 {
				notes[tp] = "no committed offset to shift: left alone"
				continue
			}
			want = committed[i].committed + m.shift
		}
		switch {
		case want < start:
			out[tp], notes[tp] = start, fmt.Sprintf("%d is below the log start: clamped", want)
		case want > end:
			out[tp], notes[tp] = end, fmt.Sprintf("%d is past the log end: clamped", want)
		default:
			out[tp] = want
		}
	}
	return out, notes, nil
}

// commitOffsets commits outside any generation, as an admin tool does for an empty group.
func commitOffsets(ctx context.Context, cl *kgo.Client, group string, tps []topicPartition, targets map[topicPartition]int64) int {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.MemberID = group, -1, ""
	for _, tp := range tps { // sorted by topic
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.topic {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = tp.topic
			req.Topics = append(req.Topics, rt)
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = tp.partition, targets[tp], -1
		rt := &req.Topics[len(req.Topics)-1]
		rt.Partitions = append(rt.Partitions, p)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return problem("%s", requestError("commit offsets", err))
	}
	exit := exitOK
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				fmt.Fprintf(os.Stderr, "seedlog: commit %s/%d: %v\n", t.Topic, p.Partition, err)
				exit = exitFailed
			}
		}
	}
	return exit
}

func groupDeleteOffsets(args []string) int {
	fs := flag.NewFlagSet("group delete-offsets", flag.ContinueOnError)
	var o clientOptions
	o.register(fs)
	topic := fs.String("topic", "", "the topic whose committed offsets to delete")
	partition := fs.Int("partition", -1, "only this partition (default: every partition of the topic)")
	const synopsis = "seedlog group delete-offsets GROUP --topic T [--partition P]"
	pos, code, ok := o.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) != 1 || *topic == "" || *partition < -1 || *partition > math.MaxInt32 {
		return usageError("group delete-offsets: want one group and --topic, and --partition at least 0 if given; usage: %s", synopsis)
	}
	group := pos[0]
	cl, err := o.client()
	if err != nil {
		return problem("%v", err)
	}
	defer cl.Close()
	partitions := []int32{int32(*partition)}
	if *partition < 0 {
		meta, code := requestMetadata(&o, cl, []string{*topic})
		if meta == nil {
			return code
		}
		if len(meta.Topics) != 1 || meta.Topics[0].ErrorCode != 0 {
			var code int16 = -1
			if len(meta.Topics) == 1 {
				code = meta.Topics[0].ErrorCode
			}
			return problem("group delete-offsets: topic %s: %v", *topic, codeError(code, nil))
		}
		partitions = partitions[:0]
		for _, p := range meta.Topics[0].Partitions {
			partitions = append(partitions, p.Partition)
		}
		slices.Sort(partitions)
	}
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = group
	rt := kmsg.NewOffsetDeleteRequestTopic()
	rt.Topic = *topic
	for _, p := range partitions {
		rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
	}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := o.ctx()
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return problem("%s", requestError("delete offsets of group "+group, err))
	}
	if err := codeError(resp.ErrorCode, nil); err != nil {
		fmt.Fprintf(os.Stderr, "seedlog: group %s: %v\n", group, err)
		return exitFailed
	}
	return reportDeletedOffsets(group, resp)
}

// reportDeletedOffsets prints what an OffsetDelete did: one line for the deleted
// partitions, one line for those it refused, grouped by reason.
func reportDeletedOffsets(group string, resp *kmsg.OffsetDeleteResponse) int {
	var deleted []string
	refused := map[int16][]string{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			name := fmt.Sprintf("%s/%d", t.Topic, p.Partition)
			if p.ErrorCode == 0 {
				deleted = append(deleted, name)
				continue
			}
			refused[p.ErrorCode] = append(refused[p.ErrorCode], name)
		}
	}
	if len(deleted) > 0 {
		fmt.Printf("deleted the committed offsets of group %s for %s\n", group, strings.Join(deleted, " "))
	}
	if len(refused) == 0 {
		return exitOK
	}
	var reasons []string
	for _, code := range slices.Sorted(maps.Keys(refused)) {
		why := kerr.ErrorForCode(code).Error()
		if code == kerr.GroupSubscribedToTopic.Code {
			why = "GROUP_SUBSCRIBED_TO_TOPIC (members of the group consume it: stop them first)"
		}
		reasons = append(reasons, fmt.Sprintf("%s: %s", strings.Join(refused[code], " "), why))
	}
	fmt.Fprintf(os.Stderr, "seedlog: group %s: offsets not deleted: %s\n", group, strings.Join(reasons, "; "))
	return exitFailed
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
