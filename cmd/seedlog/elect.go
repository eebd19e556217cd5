package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// seedlog cluster elect-leaders: preferred leader elections (ElectLeaders) through kadm.

const electSynopsis = `seedlog cluster elect-leaders [--topic NAME [--partition P]] [--unclean]
  moves each partition's leadership to its preferred (first) replica when that replica
  is in the ISR; without --topic, every partition. --unclean is refused by seedlog,
  which never elects outside the ISR.`

func clusterElectLeaders(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("cluster elect-leaders", flag.ContinueOnError)
	s.o.register(fs)
	topic := fs.String("topic", "", "only this topic's partitions")
	part := fs.Int("partition", -1, "only this partition of --topic")
	unclean := fs.Bool("unclean", false, "ask for an unclean election (seedlog refuses it)")
	pos, code, ok := s.o.parse(fs, args, electSynopsis)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return usageError("cluster elect-leaders: unexpected argument %q; usage: %s", pos[0], electSynopsis)
	case *part != -1 && *topic == "":
		return usageError("cluster elect-leaders: --partition needs --topic")
	case *part < -1 || *part > 1<<31-1:
		return usageError("cluster elect-leaders: --partition %d is not a partition", *part)
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	var set kadm.TopicsSet
	if *topic != "" {
		set = kadm.TopicsSet{}
		if *part >= 0 {
			set.Add(*topic, int32(*part))
		} else {
			details, err := s.adm.ListTopics(ctx, *topic)
			if err != nil {
				return problem("%s", requestError("describe "+*topic, err))
			}
			d, found := details[*topic]
			if !found || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
				fmt.Fprintf(os.Stderr, "seedlog: topic %s does not exist; seedlog topic list shows the topics\n", *topic)
				return exitFailed
			}
			for p := range d.Partitions {
				set.Add(*topic, p)
			}
		}
	}
	how := kadm.ElectPreferredReplica
	if *unclean {
		how = kadm.ElectLiveReplica
	}
	res, err := s.adm.ElectLeaders(ctx, how, set)
	if err != nil {
		return problem("%s", requestError("elect leaders", err))
	}
	return printElections(res)
}

// printElections prints one line per partition and returns exitFailed when an
// election that was needed failed.
func printElections(res kadm.ElectLeadersResults) int {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tRESULT")
	failed := 0
	topics := make([]string, 0, len(res))
	for t := range res {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		parts := make([]int32, 0, len(res[t]))
		for p := range res[t] {
			parts = append(parts, p)
		}
		slices.Sort(parts)
		for _, p := range parts {
			r := res[t][p]
			result := "elected the preferred leader"
			switch {
			case errors.Is(r.Err, kerr.ElectionNotNeeded):
				result = "already led by its preferred replica"
			case r.Err != nil:
				failed++
				result = r.Err.Error()
				if r.ErrMessage != "" {
					result += ": " + r.ErrMessage
				}
			}
			fmt.Fprintf(w, "%s\t%d\t%s\n", t, p, result)
		}
	}
	w.Flush()
	if len(res) == 0 {
		fmt.Println("no partition needed an election")
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "seedlog: %d election(s) failed; a preferred replica must be in the ISR (seedlog topic describe shows it)\n", failed)
		return exitFailed
	}
	return exitOK
}
