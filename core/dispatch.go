package core

import (
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// dispatchData routes the requests served by partitions and group coordinators. It
// returns false for a key without a handler.
func (n *Node) dispatchData(req Request, reply func(kmsg.Response)) bool {
	switch m := req.Msg.(type) {
	case *kmsg.ProduceRequest:
		kafka.Produce(n, m, reply)
	case *kmsg.FetchRequest:
		kafka.Fetch(n, m, reply)
	default:
		return false
	}
	return true
}
