package sim

import (
	"bytes"
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/seedlog/seedlog/core/sasl"
)

// The credentials model: per user, a register holding the password of each SCRAM
// mechanism ("" for none). Setting and removing credentials write it; an authentication
// reads it. A SCRAM authentication must succeed exactly when its mechanism's password is
// the one given, and PLAIN when either mechanism's is, at some moment between the
// operation's start and its answer: a node that checks a credential it no longer should
// (an acknowledged change not yet applied where it authenticates) fails the check.
// Authentications without a definite answer (a timeout, REQUEST_TIMED_OUT when the node
// could not confirm its image) say nothing and are left out.

// credState is one user's passwords, by mechanism: [0] SCRAM-SHA-256, [1] SCRAM-SHA-512.
type credState [2]string

type credInput struct {
	kind     OpKind
	mech     string
	password string
}

type credOutput struct {
	outcome Outcome
	code    int16
}

// credSlot is the register slot of a SCRAM mechanism, -1 for PLAIN (either).
func credSlot(mech string) int {
	switch mech {
	case sasl.NameScramSHA256:
		return 0
	case sasl.NameScramSHA512:
		return 1
	}
	return -1
}

// credStep returns the states the user's credentials may be in after an operation with
// a given outcome, from s; none when the outcome is impossible from s.
func credStep(s credState, in credInput, out credOutput) []credState {
	same := []credState{s}
	if out.outcome == Failed && out.code < 0 {
		return same // never sent
	}
	slot := credSlot(in.mech)
	if in.kind == OpAuthenticate {
		matches := false
		for i, p := range s {
			if p != "" && p == in.password && (slot < 0 || slot == i) {
				matches = true
			}
		}
		if (out.outcome == OK) == matches {
			return same
		}
		return nil
	}
	if slot < 0 {
		return nil
	}
	next := s
	applies := true
	switch in.kind {
	case OpSetCredential:
		next[slot] = in.password
	case OpDeleteCredential:
		next[slot] = ""
		applies = s[slot] != ""
	default:
		return nil
	}
	switch out.outcome {
	case OK:
		if applies {
			return []credState{next}
		}
	case Failed:
		// RESOURCE_NOT_FOUND: a removal of a credential the user did not have.
		if in.kind == OpDeleteCredential && out.code == errResourceNotFound && !applies {
			return same
		}
	case Indeterminate:
		if applies {
			return []credState{s, next}
		}
		return same
	}
	return nil
}

var credentialsModel = (&porcupine.NondeterministicModel{
	Init: func() []any { return []any{credState{}} },
	Step: func(state, input, output any) []any {
		next := credStep(state.(credState), input.(credInput), output.(credOutput))
		out := make([]any, len(next))
		for i, s := range next {
			out[i] = s
		}
		return out
	},
	Equal: func(a, b any) bool { return a.(credState) == b.(credState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(credInput), output.(credOutput)
		op := Op{Kind: in.kind, Mechanism: in.mech, Password: in.password, Outcome: out.outcome, Code: out.code}
		return op.input() + " -> " + op.output()
	},
	DescribeState: func(state any) string {
		s := state.(credState)
		return fmt.Sprintf("SCRAM-SHA-256 %q, SCRAM-SHA-512 %q", s[0], s[1])
	},
}).ToModel()

// CheckCredentials checks the credential operations of a history, user by user, each
// within timeout. It returns the first user whose history is not linearizable ("" when
// none is), Porcupine's page for it, and the users whose check ran out of time.
func CheckCredentials(ops []*Op, timeout time.Duration) (illegal, visualization string, unknown []string) {
	byUser := map[string][]porcupine.Operation{}
	for _, op := range ops {
		switch {
		case op.Kind != OpSetCredential && op.Kind != OpDeleteCredential && op.Kind != OpAuthenticate:
			continue
		case op.Outcome == Pending:
			continue
		case op.Kind == OpAuthenticate && op.Outcome == Indeterminate:
			continue // no definite answer
		}
		byUser[op.User] = append(byUser[op.User], porcupine.Operation{
			ClientId: int(op.Client - 1),
			Input:    credInput{kind: op.Kind, mech: op.Mechanism, password: op.Password},
			Output:   credOutput{outcome: op.Outcome, code: op.Code},
			Call:     op.Call, Return: op.Return,
			Metadata: fmt.Sprintf("op %d via node %d", op.ID, op.Node),
		})
	}
	return checkByUser(credentialsModel, byUser, timeout)
}

// checkByUser checks each user's history against model, in user order: the first user
// whose history is not linearizable ("" when none is), Porcupine's page for it, and the
// users whose check ran out of time.
func checkByUser(model porcupine.Model, byUser map[string][]porcupine.Operation, timeout time.Duration) (illegal, visualization string, unknown []string) {
	for _, user := range sortedKeys(byUser) {
		verdict, info := porcupine.CheckOperationsVerbose(model, byUser[user], timeout)
		switch verdict {
		case porcupine.Unknown:
			unknown = append(unknown, user)
		case porcupine.Illegal:
			if illegal == "" {
				illegal = user
				var buf bytes.Buffer
				if err := porcupine.Visualize(model, info, &buf); err == nil {
					visualization = buf.String()
				}
			}
		}
	}
	return illegal, visualization, unknown
}
