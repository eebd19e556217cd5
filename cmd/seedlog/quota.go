package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
)

// The quota command manages client quotas (AlterClientQuotas and DescribeClientQuotas,
// through kadm). An entity is a user, a client id, or both; --default-user and
// --default-client-id name Kafka's <default> entities.

const quotaSynopsis = `seedlog quota alter ENTITY [--producer-byte-rate N] [--consumer-byte-rate N] [--request-percentage P] [--remove KEY ...] [--validate-only]
       seedlog quota describe [ENTITY] [--strict]
  ENTITY is --user NAME or --default-user, and/or --client-id ID or --default-client-id;
  describe without one lists every quota. Brokers enforce producer_byte_rate and
  consumer_byte_rate (bytes per second, per broker) and request_percentage (percent of one
  thread's time on a broker, 200 = two threads).
  every subcommand takes -b/--brokers host:port (default: the running dev cluster)`

func quotaCommand(args []string) int {
	if len(args) == 0 {
		return usageError("quota: want a subcommand (alter, describe); see seedlog quota -h")
	}
	switch args[0] {
	case "alter":
		return quotaAlter(args[1:])
	case "describe":
		return quotaDescribe(args[1:])
	case "-h", "--help", "help":
		fmt.Println("usage: " + quotaSynopsis)
		return exitOK
	}
	return usageError("quota: unknown subcommand %q (want alter, describe)", args[0])
}

// entityFlags are the flags naming a quota entity.
type entityFlags struct {
	user, client               string
	defaultUser, defaultClient bool
}

func (e *entityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.user, "user", "", "the user (its SASL name, or ANONYMOUS)")
	fs.BoolVar(&e.defaultUser, "default-user", false, "the default user entity")
	fs.StringVar(&e.client, "client-id", "", "the client id")
	fs.BoolVar(&e.defaultClient, "default-client-id", false, "the default client-id entity")
}

// entity returns the entity the flags name (empty: none), or a usage problem.
func (e *entityFlags) entity() (kadm.ClientQuotaEntity, string) {
	if e.user != "" && e.defaultUser || e.client != "" && e.defaultClient {
		return nil, "give a name or the default for each entity type, not both"
	}
	var out kadm.ClientQuotaEntity
	switch {
	case e.user != "":
		u := e.user
		out = append(out, kadm.ClientQuotaEntityComponent{Type: "user", Name: &u})
	case e.defaultUser:
		out = append(out, kadm.ClientQuotaEntityComponent{Type: "user"})
	}
	switch {
	case e.client != "":
		c := e.client
		out = append(out, kadm.ClientQuotaEntityComponent{Type: "client-id", Name: &c})
	case e.defaultClient:
		out = append(out, kadm.ClientQuotaEntityComponent{Type: "client-id"})
	}
	return out, ""
}

func quotaAlter(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("quota alter", flag.ContinueOnError)
	s.o.register(fs)
	var ef entityFlags
	ef.register(fs)
	var sets [3]string
	keys := [3]string{"producer_byte_rate", "consumer_byte_rate", "request_percentage"}
	fs.StringVar(&sets[0], "producer-byte-rate", "", "bytes per second the entity may produce to each broker")
	fs.StringVar(&sets[1], "consumer-byte-rate", "", "bytes per second the entity may fetch from each broker")
	fs.StringVar(&sets[2], "request-percentage", "", "stored, not enforced")
	var removes listFlag
	fs.Var(&removes, "remove", "a quota key to remove (producer_byte_rate, consumer_byte_rate, request_percentage); repeatable")
	validate := fs.Bool("validate-only", false, "check the change without making it")
	pos, code, ok := s.o.parse(fs, args, "seedlog quota alter ENTITY [--producer-byte-rate N] [--consumer-byte-rate N] [--remove KEY ...]")
	if !ok {
		return code
	}
	entity, why := ef.entity()
	switch {
	case len(pos) != 0:
		return usageError("quota alter: unexpected arguments %q", pos)
	case why != "":
		return usageError("quota alter: %s", why)
	case len(entity) == 0:
		return usageError("quota alter: name an entity: --user NAME, --default-user, --client-id ID or --default-client-id")
	}
	var ops []kadm.AlterClientQuotaOp
	for i, v := range sets {
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return usageError("quota alter: --%s %q: want a positive number", strings.ReplaceAll(keys[i], "_", "-"), v)
		}
		ops = append(ops, kadm.AlterClientQuotaOp{Key: keys[i], Value: f})
	}
	for _, k := range removes {
		ops = append(ops, kadm.AlterClientQuotaOp{Key: strings.ReplaceAll(k, "-", "_"), Remove: true})
	}
	if len(ops) == 0 {
		return usageError("quota alter: nothing to change: give --producer-byte-rate, --consumer-byte-rate, --request-percentage or --remove")
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	alter := s.adm.AlterClientQuotas
	if *validate {
		alter = s.adm.ValidateAlterClientQuotas
	}
	what := "alter quotas of " + entity.String()
	res, err := alter(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: ops}})
	if err != nil {
		return problem("%s", requestError(what, err))
	}
	for _, r := range res {
		if r.Err != nil {
			return refused("%s: %v%s", what, r.Err, messageSuffix(r.ErrMessage))
		}
	}
	if *validate {
		fmt.Printf("quotas of %s: valid, not changed\n", entity)
	} else {
		fmt.Printf("quotas of %s: %d change(s) made\n", entity, len(ops))
	}
	return exitOK
}

func quotaDescribe(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("quota describe", flag.ContinueOnError)
	s.o.register(fs)
	var ef entityFlags
	ef.register(fs)
	strict := fs.Bool("strict", false, "only entities with no entity type beyond those given")
	pos, code, ok := s.o.parse(fs, args, "seedlog quota describe [ENTITY] [--strict]")
	if !ok {
		return code
	}
	entity, why := ef.entity()
	if len(pos) != 0 || why != "" {
		return usageError("quota describe: %s", strings.TrimSpace(why+" "+strings.Join(pos, " ")))
	}
	var comps []kadm.DescribeClientQuotaComponent
	for _, c := range entity {
		dc := kadm.DescribeClientQuotaComponent{Type: c.Type, MatchName: c.Name}
		if c.Name == nil {
			dc.MatchType = 1 // the default entity
		}
		comps = append(comps, dc)
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	described, err := s.adm.DescribeClientQuotas(ctx, *strict, comps)
	if err != nil {
		return problem("%s", requestError("describe quotas", err))
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ENTITY\tKEY\tVALUE")
	for _, d := range described {
		for _, v := range d.Values {
			fmt.Fprintf(w, "%s\t%s\t%s\n", d.Entity, v.Key, strconv.FormatFloat(v.Value, 'f', -1, 64))
		}
	}
	w.Flush()
	return exitOK
}
