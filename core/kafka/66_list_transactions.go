package kafka

// ListTransactions, key 66, versions 0-1.
//
// As in Kafka, a broker with a coordinator still loading its partition answers
// COORDINATOR_LOAD_IN_PROGRESS (the list would miss that partition's ids); otherwise it
// lists the transactional ids its coordinators hold that the
// caller may DESCRIBE, filtered by state, producer id and (v1) by having run longer
// than DurationFilterMillis; an unknown state filter is listed in UnknownStateFilters.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListTransactions lists the transactions this broker coordinates.
func ListTransactions(b Broker, req *kmsg.ListTransactionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	resp.SetVersion(req.GetVersion())
	// Filters go into sets: a request may carry many, and every listed id is checked
	// against them.
	states := map[string]bool{}
	for _, st := range req.StateFilters {
		if txn.KnownState(st) {
			states[st] = true
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, st)
		}
	}
	pids := make(map[int64]bool, len(req.ProducerIDFilters))
	for _, id := range req.ProducerIDFilters {
		pids[id] = true
	}
	v := b.View()
	now := b.Now() / 1e6
	for _, c := range b.TxnCoordinators() {
		if code := c.Availability(); code == kerr.CoordinatorLoadInProgress.Code {
			resp.ErrorCode, resp.TransactionStates = code, nil
			return resp
		} else if code != 0 {
			continue
		}
		for _, s := range c.List() {
			switch {
			case len(req.StateFilters) > 0 && !states[s.State],
				len(pids) > 0 && !pids[s.ProducerID],
				req.DurationFilterMillis >= 0 && req.GetVersion() >= 1 && (s.StartMs < 0 || now-s.StartMs < req.DurationFilterMillis),
				v.Check(acl.OpDescribe, acl.ResourceTransactionalID, s.TxnID) != 0:
				continue
			}
			t := kmsg.NewListTransactionsResponseTransactionState()
			t.TransactionalID, t.ProducerID, t.TransactionState = s.TxnID, s.ProducerID, s.State
			resp.TransactionStates = append(resp.TransactionStates, t)
		}
	}
	return resp
}
