package disk

// Gate holds values that may be released only once a given Op has completed: a vote
// that waits for the quorum state to be synced, an acknowledgement that waits for a sync.
// A Gate's Ops are those of one component, and so of one lane (see the package doc):
// their Dones arrive in Op order, and the completion of Op n releases everything held
// for any Op up to n. Holding a value behind a Gate is the only way the core emits
// durability-dependent outputs, so the wrong order cannot be written down.
type Gate[T any] struct {
	held []gated[T] // ordered by after, ascending
}

type gated[T any] struct {
	after OpID
	v     T
}

// Hold keeps v until Op after completes.
func (g *Gate[T]) Hold(after OpID, v T) {
	if n := len(g.held); n > 0 && g.held[n-1].after > after {
		panic("disk: Gate.Hold out of order")
	}
	g.held = append(g.held, gated[T]{after, v})
}

// Release appends to out every value held for an Op up to done, in order.
func (g *Gate[T]) Release(done OpID, out []T) []T {
	i := 0
	for i < len(g.held) && g.held[i].after <= done {
		out = append(out, g.held[i].v)
		i++
	}
	if i > 0 {
		clear(g.held[:i])
		g.held = g.held[i:]
	}
	return out
}

// Len is the number of values held.
func (g *Gate[T]) Len() int { return len(g.held) }

// Drop forgets every held value (the node lost its state).
func (g *Gate[T]) Drop() { g.held = nil }
