package node

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core"
)

// notesInfo are the note kinds logged at info level: changes of role and membership an
// operator wants to see. notesWarn are the ones that point at trouble. Every other kind
// is logged at debug level. Components prefix their kinds ("replica-leader",
// "quorum-elected"); the tables hold them without the prefix.
var (
	notesInfo = map[string]bool{
		"elected": true, "leader": true, "resigned": true, "stepped-down": true,
		"controller-active": true, "controller-inactive": true, "broker-registered": true,
		"broker-fenced": true, "broker-reregister": true, "isr": true, "truncated": true,
		"truncate": true, "reset": true, "snapshot-installed": true, "added": true,
		"removed": true, "coordinator-started": true, "coordinator-stopped": true,
		"retention": true, "broker-register-refused": true,
		"txn-coordinator-loaded": true, "txn-timed-out": true, "txn-fenced": true,
	}
	notesWarn = map[string]bool{
		"fatal": true, "peer-garbage": true, "bad-batch": true, "truncate-below-hw": true,
		"conflicting-leader": true, "epoch-cache-repaired": true,
		"stray": true, "resign": true, "resume": true, "repair": true, "gap": true, "read-retried": true,
		"txn-marker-refused": true,
	}
	// notesError are the notes an operator must act on: data that failed its checksums
	// on this disk (fenced, to be fetched back from another replica), and ranges that
	// no in-sync replica held intact (lost).
	notesError   = map[string]bool{"damaged": true, "lost": true}
	notePrefixes = []string{"replica-", "quorum-", "group-", "transaction-"}
)

func noteLevel(kind string) slog.Level {
	for _, k := range []string{kind, trimNotePrefix(kind)} {
		switch {
		case notesError[k]:
			return slog.LevelError
		case notesWarn[k]:
			return slog.LevelWarn
		case notesInfo[k]:
			return slog.LevelInfo
		}
	}
	return slog.LevelDebug
}

func trimNotePrefix(kind string) string {
	for _, p := range notePrefixes {
		if strings.HasPrefix(kind, p) {
			return kind[len(p):]
		}
	}
	return kind
}

// noteRepeatWindow: a note equal to the previous one within this window is counted, not
// logged (a broker retrying its registration every few hundred milliseconds).
const noteRepeatWindow = 10 * time.Second

func (n *Node) logNote(note core.Note) {
	now := time.Now()
	if note == n.lastNote && now.Sub(n.lastNoteAt) < noteRepeatWindow {
		n.noteRepeats++
		return
	}
	if n.noteRepeats > 0 {
		n.log.Log(context.Background(), noteLevel(n.lastNote.Kind), n.lastNote.Kind, "detail", n.lastNote.Text, "repeated", n.noteRepeats)
	}
	n.lastNote, n.lastNoteAt, n.noteRepeats = note, now, 0
	n.log.Log(context.Background(), noteLevel(note.Kind), note.Kind, "detail", note.Text)
}
