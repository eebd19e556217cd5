package sim

import (
	"fmt"
	"slices"
	"strings"
)

// Coverage counts interesting events of a run: node notes ("note:elected",
// "note:truncated", ...), faults injected ("fault:crash", ...), network and disk
// statistics ("net:...", "disk:..."), recoveries, client outcomes ("op:create:ok") and
// checker events ("check:..."). Sweeps sum them, so a sweep that never exercised a path
// says so.
type Coverage map[string]int64

// Inc adds one to a counter.
func (c Coverage) Inc(name string) { c[name]++ }

// Add adds v to a counter (zero values are kept, so a summary can list what stayed 0).
func (c Coverage) Add(name string, v int64) { c[name] += v }

// Merge adds every counter of o into c.
func (c Coverage) Merge(o Coverage) {
	for k, v := range o {
		c[k] += v
	}
}

// Names returns the counter names, sorted.
func (c Coverage) Names() []string {
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// String lists the non-zero counters, sorted, several per line.
func (c Coverage) String() string {
	var b strings.Builder
	col := 0
	for _, k := range c.Names() {
		if c[k] == 0 {
			continue
		}
		item := fmt.Sprintf("%s=%d", k, c[k])
		if col > 0 && col+len(item) > 100 {
			b.WriteByte('\n')
			col = 0
		}
		if col > 0 {
			b.WriteString("  ")
			col += 2
		}
		b.WriteString(item)
		col += len(item)
	}
	return b.String()
}

// FaultKinds are the fault counters a sweep expects to see non-zero.
var FaultKinds = []string{"fault:crash", "fault:restart", "fault:pause", "fault:partition", "fault:clog",
	"fault:link-rates", "fault:disk-eio", "fault:disk-enospc", "fault:read-corrupt", "fault:at-rest-corrupt",
	"fault:partition-corrupt", "fault:partition-sector-lost", "fault:partition-corrupt-every-copy",
	"fault:clock-jump", "fault:crash-on-write", "fault:power-loss", "fault:controlled-shutdown", "fault:byzantine"}

// Interesting are the protocol events a sweep expects to have exercised. Counters come
// from the node's notes; the list grows with the protocols.
var Interesting = []string{"note:quorum-elected", "note:quorum-stepped-down", "note:quorum-truncated",
	"note:quorum-snapshot-installed", "note:quorum-resigned", "note:broker-fenced", "recovery:cut-tail", "recovery:after-fsync-loss", "shell:fatal",
	// partitions
	"note:replica-truncate", "partition:isr-shrink", "partition:isr-shrink-to-min",
	"partition:isr-expand", "partition:leader-failover", "producer:duplicate-answered",
	"fetch:long-poll", "liveness:data-converged", "note:replica-reset",
	// damaged partition data: fenced, handed over, fetched back, declared lost, copied
	"note:replica-damaged", "note:replica-resign", "note:replica-repair", "note:replica-lost", "note:replica-gap",
	"check:declared-lost",
	// the per-broker replica bound refusing new partitions and moves
	"broker-cap:refused:create-partitions", "broker-cap:refused:reassign",
	// groups
	"group:rebalance", "group:coordinator-failover", "group:leader-rejoin-new-partitions", "group:leave",
	"group:member-id-required", "group:commit-retry", "offsets:group-removing", "note:group-offsets-expiry-unknown",
	// peer authentication and the byzantine client
	"auth:session", "auth:refused:reset", "auth:refused:tag", "auth:refused:no-session", "auth:refused:handshake",
	"attack:client-closed", "attack:client-answered", "attack:aimed-fetch",
	// client security: SASL re-authentication (KIP-368), quota mutes, request quotas
	"credentials:reauth-ok", "credentials:reauth-refused-v0", "quota:held-then-served", "quota:throttled:request_percentage",
	// the shell: controlled shutdowns, input batches, group commits cut short
	"shutdown:ready", "shutdown:timed-out", "shell:inputs-batched", "shell:disk-batch-grouped", "shell:disk-batch-cut",
	// transactions
	"note:txn-coordinator-loaded", "txn:zombie-refused", "txn:abort-by-epoch-bump", "txn:offsets-committed",
	"txn:offsets-unstable", "check:read-committed-dropped", "check:txn-committed-multi-partition",
	"txn:zombie-write", "txn:idle", "txn:crash-after-end-txn", "check:txn-prepare", "txn:sloppy-hold", "txn:verify-rejected",
	"txn:id-expired", "txn:late-write-fenced", "ctp:late-offsets-refused"}

// Missing lists the names among want whose counter is 0 in c.
func (c Coverage) Missing(want []string) []string {
	var out []string
	for _, k := range want {
		if c[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}
