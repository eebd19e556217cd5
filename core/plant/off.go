//go:build !simbugs

package plant

import "errors"

// Enabled reports whether this binary can switch plants on.
const Enabled = false

// Set is empty in normal builds: no plant can be on.
type Set struct{}

// On is always false in normal builds; the compiler removes the planted branches.
func (Set) On(Name) bool { return false }

// Parse fails for any name in normal builds.
func Parse(names ...string) (Set, error) {
	if len(names) == 0 {
		return Set{}, nil
	}
	return Set{}, errors.New("planted bugs need a build with -tags simbugs")
}

func (Set) String() string { return "" }
