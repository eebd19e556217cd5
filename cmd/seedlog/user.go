package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
)

// The user command manages SCRAM credentials (AlterUserScramCredentials and
// DescribeUserScramCredentials, through kadm). The password never appears on the command
// line: it comes from standard input or SEEDLOG_USER_PASSWORD.

const userSynopsis = `seedlog user create NAME [--mechanism SCRAM-SHA-512|SCRAM-SHA-256|both] [--iterations N]
       seedlog user delete NAME [--mechanism SCRAM-SHA-512|SCRAM-SHA-256|both]
       seedlog user list [NAME ...]
  create reads the password from the first line of stdin, or from SEEDLOG_USER_PASSWORD;
  every subcommand takes -b/--brokers host:port (default: the running dev cluster)`

func userCommand(args []string) int {
	if len(args) == 0 {
		return usageError("user: want a subcommand (create, delete, list); see seedlog user -h")
	}
	switch args[0] {
	case "create":
		return userCreate(args[1:])
	case "delete":
		return userDelete(args[1:])
	case "list":
		return userList(args[1:])
	case "-h", "--help", "help":
		fmt.Println("usage: " + userSynopsis)
		return exitOK
	}
	return usageError("user: unknown subcommand %q (want create, delete, list)", args[0])
}

// scramMechanisms reads --mechanism.
func scramMechanisms(v string) ([]kadm.ScramMechanism, bool) {
	switch strings.ToUpper(v) {
	case "SCRAM-SHA-512":
		return []kadm.ScramMechanism{kadm.ScramSha512}, true
	case "SCRAM-SHA-256":
		return []kadm.ScramMechanism{kadm.ScramSha256}, true
	case "BOTH":
		return []kadm.ScramMechanism{kadm.ScramSha512, kadm.ScramSha256}, true
	}
	return nil, false
}

// readPassword takes the password from SEEDLOG_USER_PASSWORD or stdin's first line.
func readPassword(stdin io.Reader) (string, error) {
	if p := os.Getenv("SEEDLOG_USER_PASSWORD"); p != "" {
		return p, nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("no password: give it on stdin (e.g. read -s PW; echo \"$PW\" | seedlog user create ...) or in SEEDLOG_USER_PASSWORD")
	}
	return line, nil
}

func userCreate(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	s.o.register(fs)
	mech := fs.String("mechanism", "SCRAM-SHA-512", "SCRAM-SHA-512, SCRAM-SHA-256 or both")
	iterations := fs.Int("iterations", 8192, "PBKDF2 iterations (4096 to 16384)")
	pos, code, ok := s.o.parse(fs, args, "seedlog user create NAME [--mechanism M] [--iterations N]")
	if !ok {
		return code
	}
	mechs, mok := scramMechanisms(*mech)
	if len(pos) != 1 || pos[0] == "" || !mok || *iterations < 4096 || *iterations > 16384 {
		return usageError("user create: want one user name, --mechanism SCRAM-SHA-512|SCRAM-SHA-256|both and --iterations in [4096, 16384]")
	}
	password, err := readPassword(os.Stdin)
	if err != nil {
		return usageError("user create: %v", err)
	}
	var ups []kadm.UpsertSCRAM
	for _, m := range mechs {
		ups = append(ups, kadm.UpsertSCRAM{User: pos[0], Mechanism: m, Iterations: int32(*iterations), Password: password})
	}
	return s.alterUser("create user "+pos[0], nil, ups, func() string {
		return fmt.Sprintf("user %s: %s credential set", pos[0], *mech)
	})
}

func userDelete(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("user delete", flag.ContinueOnError)
	s.o.register(fs)
	mech := fs.String("mechanism", "both", "SCRAM-SHA-512, SCRAM-SHA-256 or both (every credential the user has)")
	pos, code, ok := s.o.parse(fs, args, "seedlog user delete NAME [--mechanism M]")
	if !ok {
		return code
	}
	mechs, mok := scramMechanisms(*mech)
	if len(pos) != 1 || !mok {
		return usageError("user delete: want one user name and --mechanism SCRAM-SHA-512|SCRAM-SHA-256|both")
	}
	if code := s.open(); code != exitOK {
		return code
	}
	if strings.EqualFold(*mech, "both") {
		// Only the mechanisms the user has: deleting an absent one is refused.
		ctx, cancel := s.o.ctx()
		described, err := s.adm.DescribeUserSCRAMs(ctx, pos[0])
		cancel()
		if err != nil {
			s.close()
			return problem("%s", requestError("describe user "+pos[0], err))
		}
		d := described[pos[0]]
		if d.Err != nil {
			s.close()
			return refused("delete user %s: %v%s", pos[0], d.Err, messageSuffix(d.ErrMessage))
		}
		mechs = mechs[:0]
		for _, c := range d.CredInfos {
			mechs = append(mechs, c.Mechanism)
		}
	}
	var dels []kadm.DeleteSCRAM
	for _, m := range mechs {
		dels = append(dels, kadm.DeleteSCRAM{User: pos[0], Mechanism: m})
	}
	return s.alterUser("delete user "+pos[0], dels, nil, func() string {
		return fmt.Sprintf("user %s: %d credential(s) deleted", pos[0], len(dels))
	})
}

// alterUser sends one AlterUserScramCredentials and reports its one result.
func (s *adminSession) alterUser(what string, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM, done func() string) int {
	if s.cl == nil {
		if code := s.open(); code != exitOK {
			return code
		}
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	resps, err := s.adm.AlterUserSCRAMs(ctx, dels, ups)
	if err != nil {
		return problem("%s", requestError(what, err))
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			return refused("%s: %v%s", what, r.Err, messageSuffix(r.ErrMessage))
		}
	}
	fmt.Println(done())
	return exitOK
}

func userList(args []string) int {
	var s adminSession
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	s.o.register(fs)
	pos, code, ok := s.o.parse(fs, args, "seedlog user list [NAME ...]")
	if !ok {
		return code
	}
	if code := s.open(); code != exitOK {
		return code
	}
	defer s.close()
	ctx, cancel := s.o.ctx()
	defer cancel()
	described, err := s.adm.DescribeUserSCRAMs(ctx, pos...)
	if err != nil {
		return problem("%s", requestError("list users", err))
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tMECHANISM\tITERATIONS")
	failed := false
	for _, d := range described.Sorted() {
		if d.Err != nil {
			fmt.Fprintf(os.Stderr, "user %s: %v%s\n", d.User, d.Err, messageSuffix(d.ErrMessage))
			failed = true
			continue
		}
		for _, c := range d.CredInfos {
			fmt.Fprintf(w, "%s\t%s\t%d\n", d.User, c.Mechanism, c.Iterations)
		}
	}
	w.Flush()
	if failed {
		return exitFailed
	}
	return exitOK
}
