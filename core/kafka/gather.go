package kafka

// gather waits for the answers of several calls that may reply at once or later, and
// runs done once after the last. It holds one count of its own, given back by close
// once every call is issued, so that calls answering synchronously cannot run done
// before the rest have been issued.
type gather struct {
	pending int
	done    func()
}

func newGather(done func()) *gather { return &gather{pending: 1, done: done} }

// add counts one more answer to wait for.
func (g *gather) add() { g.pending++ }

// answered records one answer; the one after the last runs done.
func (g *gather) answered() {
	if g.pending <= 0 {
		panic("kafka: a call answered twice, or after its request was answered")
	}
	if g.pending--; g.pending == 0 {
		g.done()
	}
}

// close gives back gather's own count once every call is issued.
func (g *gather) close() { g.answered() }
