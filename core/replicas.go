package core

import (
	"errors"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The broker's partition replicas. (Placeholder until core/partition lands.)

func (n *Node) startReplicas(now int64, rec disk.Recovered)              {}
func (n *Node) syncReplicas(now int64)                                   {}
func (n *Node) tickReplicas(now int64)                                   {}
func (n *Node) replicasDeadline() int64                                  { return NoDeadline }
func (n *Node) drainReplicas(now int64)                                  {}
func (n *Node) leaseChanged()                                            {}
func (n *Node) stepReplicaMessage(from int32, m any)                     {}
func (n *Node) dispatchData(req Request, reply func(kmsg.Response)) bool { return false }
func decodeReplicaMessage(r *enc.Reader) (any, error) {
	return nil, errors.New("replica messages not served")
}
