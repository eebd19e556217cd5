package raft

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
)

// Defaults for the optional limits of Config.
const (
	UncommittedBytesMaxDefault = 8 << 20
	HeldFetchesMaxDefault      = 256
	SnapshotBytesMaxDefault    = 256 << 20
	pendingMessagesMax         = 4096
)

// Config configures one member of the quorum.
type Config struct {
	ID int32
	// Voters is sorted and fixed. ID may be among them (a voter) or not (an observer).
	Voters []int32
	// ElectionTimeout: a voter without a leader starts an election after a random
	// timeout in [T, 2T); a voter that heard from a live leader within T refuses
	// pre-votes.
	ElectionTimeout time.Duration
	// FetchMaxWait: the leader holds a fetch that would return nothing this long.
	FetchMaxWait time.Duration
	// FetchTimeout: a follower with no good fetch response this long starts an election
	// (an observer tries another voter); a leader that no majority fetched from this long
	// resigns. It must exceed FetchMaxWait.
	FetchTimeout time.Duration
	// ClockDriftMax bounds every member's clock rate error (0.01: a clock advances
	// between 0.99 and 1.01 seconds per real second). The epoch guard needs it to bound
	// how fast elections can raise the epoch as seen on this member's clock.
	ClockDriftMax      float64
	FetchBytesMax      int // batches per fetch response, beyond the first
	SnapshotChunkBytes int // snapshot bytes per FetchSnapshot response
	Rand               *rand.Rand
	Plants             plant.Set
	Queue              *disk.Queue // every disk op raft needs goes here

	// UncommittedBytesMax bounds the batches the leader holds above the high watermark;
	// Propose fails with ErrBusy beyond it. 0 means UncommittedBytesMaxDefault.
	UncommittedBytesMax int
	// HeldFetchesMax bounds the fetches the leader holds for long polling (one per
	// replica at most). 0 means HeldFetchesMaxDefault.
	HeldFetchesMax int
	// SnapshotBytesMax bounds a snapshot a follower accepts. 0 means
	// SnapshotBytesMaxDefault.
	SnapshotBytesMax int

	// trustSurvivors (set only by this package's tests) restarts a member that lost
	// acknowledged entries or its quorum state as if nothing had been lost, so that the
	// tests can show what the recovery rules prevent.
	trustSurvivors bool
}

func (c Config) withDefaults() Config {
	if c.UncommittedBytesMax == 0 {
		c.UncommittedBytesMax = UncommittedBytesMaxDefault
	}
	if c.HeldFetchesMax == 0 {
		c.HeldFetchesMax = HeldFetchesMaxDefault
	}
	if c.SnapshotBytesMax == 0 {
		c.SnapshotBytesMax = SnapshotBytesMaxDefault
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if len(c.Voters) == 0 {
		errs = append(errs, errors.New("no voters"))
	}
	for i, v := range c.Voters {
		if v < 0 || (i > 0 && c.Voters[i-1] >= v) {
			errs = append(errs, fmt.Errorf("voters %v are not sorted, unique and non-negative", c.Voters))
			break
		}
	}
	if c.ID < 0 {
		errs = append(errs, fmt.Errorf("negative id %d", c.ID))
	}
	if c.ElectionTimeout <= 0 {
		errs = append(errs, fmt.Errorf("election timeout %v", c.ElectionTimeout))
	}
	if c.FetchMaxWait < 0 || c.FetchTimeout <= c.FetchMaxWait {
		errs = append(errs, fmt.Errorf("fetch timeout %v must exceed fetch max wait %v", c.FetchTimeout, c.FetchMaxWait))
	}
	if !(c.ClockDriftMax >= 0 && c.ClockDriftMax < 0.5) {
		errs = append(errs, fmt.Errorf("clock drift bound %v outside [0, 0.5)", c.ClockDriftMax))
	}
	if c.FetchBytesMax <= 0 || c.SnapshotChunkBytes <= 0 {
		errs = append(errs, fmt.Errorf("fetch bytes max %d, snapshot chunk bytes %d", c.FetchBytesMax, c.SnapshotChunkBytes))
	}
	if c.UncommittedBytesMax < 0 || c.HeldFetchesMax < 0 || c.SnapshotBytesMax < 0 {
		errs = append(errs, errors.New("negative limit"))
	}
	if c.Rand == nil || c.Queue == nil {
		errs = append(errs, errors.New("Rand and Queue are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("raft: config: %w", err)
	}
	return nil
}
