package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The acl command manages ACLs (CreateAcls, DeleteAcls, DescribeAcls through kadm). The
// brokers must run with authorizer.class.name set; the command runs as whoever the
// client options authenticate as, who needs ALTER (DESCRIBE to list) on the cluster.

const aclSynopsis = `seedlog acl create (--allow P | --deny P) --operation OP[,OP] RESOURCE [--prefixed] [--host H]
       seedlog acl delete [--allow P | --deny P] [--operation OP] [RESOURCE] [--prefixed]
       seedlog acl list [--principal P] [RESOURCE]
  RESOURCE: --topic T | --group G | --cluster | --transactional-id X
  P: a principal such as User:alice, or User:* for every user
  OP: all, read, write, create, delete, alter, describe, cluster_action, describe_configs,
      alter_configs, idempotent_write
  every subcommand takes -b/--brokers host:port (default: the running dev cluster)`

func aclCommand(args []string) int {
	if len(args) == 0 {
		return usageError("acl: want a subcommand (create, delete, list); see seedlog acl -h")
	}
	switch args[0] {
	case "create", "delete", "list":
		return aclRun(args[0], args[1:])
	case "-h", "--help", "help":
		fmt.Println("usage: " + aclSynopsis)
		return exitOK
	}
	return usageError("acl: unknown subcommand %q (want create, delete, list)", args[0])
}

// aclFlags are the flags the subcommands share.
type aclFlags struct {
	allow, deny, principal, host, ops string
	topic, group, txn                 string
	cluster, prefixed                 bool
}

func (f *aclFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.allow, "allow", "", "allow this principal")
	fs.StringVar(&f.deny, "deny", "", "deny this principal")
	fs.StringVar(&f.principal, "principal", "", "list: only ACLs of this principal")
	fs.StringVar(&f.host, "host", "*", "the client host the ACL applies to (* for any)")
	fs.StringVar(&f.ops, "operation", "", "operations, comma-separated")
	fs.StringVar(&f.topic, "topic", "", "a topic (or, with --prefixed, a topic name prefix)")
	fs.StringVar(&f.group, "group", "", "a consumer group (or a prefix)")
	fs.StringVar(&f.txn, "transactional-id", "", "a transactional id (or a prefix)")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster")
	fs.BoolVar(&f.prefixed, "prefixed", false, "the resource name is a prefix")
}

// builder turns the flags into a kadm ACL builder; create says every part is required.
func (f *aclFlags) builder(create bool) (*kadm.ACLBuilder, error) {
	b := kadm.NewACLs()
	resources := 0
	for _, set := range []bool{f.topic != "", f.group != "", f.txn != "", f.cluster} {
		if set {
			resources++
		}
	}
	switch {
	case resources > 1:
		return nil, fmt.Errorf("give one of --topic, --group, --transactional-id, --cluster")
	case f.topic != "":
		b.Topics(f.topic)
	case f.group != "":
		b.Groups(f.group)
	case f.txn != "":
		b.TransactionalIDs(f.txn)
	case f.cluster:
		b.Clusters()
	case create:
		return nil, fmt.Errorf("give the resource: --topic, --group, --transactional-id or --cluster")
	default:
		b.AnyResource()
	}
	pattern := kadm.ACLPatternLiteral
	if f.prefixed {
		pattern = kadm.ACLPatternPrefixed
	} else if !create && resources == 0 {
		pattern = kadm.ACLPatternAny
	}
	b.ResourcePatternType(pattern)
	switch {
	case f.allow != "" && f.deny != "":
		return nil, fmt.Errorf("give --allow or --deny, not both")
	case f.allow != "":
		b.Allow(f.allow).AllowHosts(f.host)
	case f.deny != "":
		b.Deny(f.deny).DenyHosts(f.host)
	case f.principal != "":
		b.Allow(f.principal).AllowHosts().Deny(f.principal).DenyHosts()
	case create:
		return nil, fmt.Errorf("give --allow PRINCIPAL or --deny PRINCIPAL")
	default:
		b.Allow().AllowHosts().Deny().DenyHosts()
	}
	var ops []kadm.ACLOperation
	for s := range strings.SplitSeq(f.ops, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		op, err := kmsg.ParseACLOperation(s)
		if err != nil {
			return nil, fmt.Errorf("--operation %q: %v", s, err)
		}
		ops = append(ops, op)
	}
	switch {
	case len(ops) == 0 && create:
		return nil, fmt.Errorf("give --operation")
	case len(ops) == 0:
		ops = []kadm.ACLOperation{kadm.OpAny}
	}
	b.Operations(ops...)
	return b, nil
}

func aclRun(sub string, args []string) int {
	var s adminSession
	var f aclFlags
	fs := flag.NewFlagSet("acl "+sub, flag.ContinueOnError)
	s.o.register(fs)
	f.register(fs)
	pos, code, ok := s.o.parse(fs, args, "seedlog acl "+sub)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError("acl %s: unexpected %q; usage:\n%s", sub, pos[0], aclSynopsis)
	}
	b, err := f.builder(sub == "create")
	if err != nil {
		return usageError("acl %s: %v", sub, err)
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	switch sub {
	case "create":
		results, err := s.adm.CreateACLs(ctx, b)
		if err != nil {
			return problem("%s", requestError("create ACLs", err))
		}
		for _, r := range results {
			if r.Err != nil {
				return refused("create ACL for %s on %s %s: %v%s", r.Principal, r.Type, r.Name, r.Err, messageSuffix(r.ErrMessage))
			}
			fmt.Printf("created: %s %s %s on %s %s (%s)\n", r.Permission, r.Principal, r.Operation, strings.ToLower(r.Type.String()), r.Name, r.Pattern)
		}
	case "delete":
		results, err := s.adm.DeleteACLs(ctx, b)
		if err != nil {
			return problem("%s", requestError("delete ACLs", err))
		}
		n := 0
		for _, r := range results {
			if r.Err != nil {
				return refused("delete ACLs: %v%s", r.Err, messageSuffix(r.ErrMessage))
			}
			n += len(r.Deleted)
		}
		fmt.Printf("deleted %d ACL(s)\n", n)
	default:
		results, err := s.adm.DescribeACLs(ctx, b)
		if err != nil {
			return problem("%s", requestError("list ACLs", err))
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "PRINCIPAL\tPERMISSION\tOPERATION\tRESOURCE\tNAME\tPATTERN\tHOST")
		seen := map[string]bool{}
		for _, r := range results {
			if r.Err != nil {
				return refused("list ACLs: %v%s", r.Err, messageSuffix(r.ErrMessage))
			}
			for _, d := range r.Described {
				line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", d.Principal, d.Permission, d.Operation, strings.ToLower(d.Type.String()), d.Name, d.Pattern, d.Host)
				if !seen[line] {
					seen[line] = true
					fmt.Fprintln(w, line)
				}
			}
		}
		w.Flush()
	}
	return exitOK
}
