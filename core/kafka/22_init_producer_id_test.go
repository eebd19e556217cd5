package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestInitProducerID(t *testing.T) {
	type want struct {
		code  int16
		id    int64
		epoch int16
	}
	cases := []struct {
		name       string
		minVersion int16
		txn        *string
		id         int64
		epoch      int16
		answer     pidAnswer
		calls      int
		want       want
	}{
		{name: "idempotent", answer: pidAnswer{id: 7000}, calls: 1, want: want{0, 7000, 0}},
		{name: "no block", answer: pidAnswer{id: -1, code: kerr.CoordinatorNotAvailable.Code}, calls: 1,
			want: want{kerr.CoordinatorNotAvailable.Code, -1, -1}},
		// The fake broker runs no transaction coordinator.
		{name: "transactional", txn: str("tx-1"), want: want{kerr.NotCoordinator.Code, -1, -1}},
		{name: "empty transactional id", txn: str(""), answer: pidAnswer{id: 7002}, calls: 1, want: want{0, 7002, 0}},
		{name: "epoch bump gets a fresh id", minVersion: 3, id: 55, epoch: 3, answer: pidAnswer{id: 7001}, calls: 1,
			want: want{0, 7001, 0}},
		{name: "id without epoch", minVersion: 3, id: 55, epoch: -1, want: want{kerr.InvalidRequest.Code, -1, -1}},
		{name: "epoch without id", minVersion: 3, id: -1, epoch: 2, want: want{kerr.InvalidRequest.Code, -1, -1}},
	}
	for _, c := range cases {
		for _, v := range versions(t, 22) {
			if v < c.minVersion {
				continue
			}
			b := newFakeBroker(t)
			b.pids = []pidAnswer{c.answer}
			b.pidHold = true
			req := kmsg.NewPtrInitProducerIDRequest()
			req.SetVersion(v)
			req.TransactionalID, req.TransactionTimeoutMillis = c.txn, 60000
			req.ProducerID, req.ProducerEpoch = c.id, c.epoch
			if c.id == 0 && c.epoch == 0 {
				req.ProducerID, req.ProducerEpoch = -1, -1
			}
			rs := &replies{t: t}
			InitProducerID(b, viaWire(t, req), rs.reply)
			if b.pidCalls != c.calls {
				t.Fatalf("%s v%d: %d producer ids asked for, want %d", c.name, v, b.pidCalls, c.calls)
			}
			if c.calls > 0 {
				if len(rs.got) != 0 {
					t.Fatalf("%s v%d: answered before the producer id arrived", c.name, v)
				}
				b.pidHeld[0]()
			}
			resp := rs.one().(*kmsg.InitProducerIDResponse)
			checkWire(t, resp)
			if got := (want{resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch}); got != c.want {
				t.Errorf("%s v%d: got %+v, want %+v", c.name, v, got, c.want)
			}
		}
	}
}
