package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Leader balance in the fault mix: in a third of the seeds with data the nodes run
// auto.leader.rebalance.enable with a check every few seconds (LeaderBalance), and in a
// third an elector client asks for preferred elections (ElectLeaders) of a data topic
// or of every partition now and then (DataConfig.ElectInterval). Both move leaderships
// away from leaders that are alive and may hold a lease, which nothing else does; the
// existing checkers (linearizability, the log history, durability, the partition
// invariants) judge what follows.

// LeaderBalance is the nodes' auto.leader.rebalance.enable,
// leader.imbalance.per.broker.percentage and leader.imbalance.check.interval.
type LeaderBalance struct {
	On       bool
	Percent  int
	Interval time.Duration
}

func (l LeaderBalance) String() string {
	if !l.On {
		return ""
	}
	return fmt.Sprintf("leaders rebalance every %v past %d%% imbalance\n", l.Interval, l.Percent)
}

// drawLeaderBalance draws, from its own stream, the nodes' leader rebalancing and the
// elector's interval.
func drawLeaderBalance(seed uint64, c *Config) {
	rng := Stream(seed, streamLeaders, 0)
	if !c.Data.On() {
		return
	}
	if rng.IntN(3) == 0 {
		c.LeaderBalance = LeaderBalance{On: true, Percent: []int{0, 10, 50}[rng.IntN(3)], Interval: time.Duration(1+rng.IntN(5)) * time.Second}
	}
	if rng.IntN(3) == 0 {
		c.Data.ElectInterval = time.Duration(2+rng.IntN(8)) * time.Second
	}
}

// electAll is the topic of an election step that covers every partition.
const electAll = "*"

// startElector starts the client that asks for preferred elections.
func (d *dataWorkload) startElector() {
	c := d.w.addClient(roleElector)
	c.interval = d.w.cfg.Data.ElectInterval
	c.desc = "the elector (it asks for preferred leader elections)"
	c.act = d.elect
	c.onStep = d.electStep
	c.scheduleNext()
	d.elector = c
}

// elect asks for the preferred leaders of a data topic, or of every partition.
func (d *dataWorkload) elect() {
	c, w := d.elector, d.w
	if w.phase != phaseSafety || w.failure != nil {
		return
	}
	defer c.scheduleNext()
	topics := w.dataTopicNames()
	topic := electAll
	if c.rng.IntN(2) == 0 {
		topic = topics[c.rng.IntN(len(topics))]
	}
	if c.busy {
		return
	}
	if s := w.script; s != nil {
		st := s.turn(c, StepElectLeaders)
		if st == nil {
			return
		}
		topic = st.Topic
	}
	d.electLeaders(topic)
}

// electStep starts a scheduled election.
func (d *dataWorkload) electStep(st *Step) string {
	if _, ok := d.w.cfg.Data.topic(st.Topic); !ok && st.Topic != electAll {
		return fmt.Sprintf("no data topic %s", st.Topic)
	}
	if d.elector.busy {
		return stepBusy
	}
	d.electLeaders(st.Topic)
	return ""
}

// electLeaders sends one ElectLeaders; a topic's partitions are those the client's
// metadata knows.
func (d *dataWorkload) electLeaders(topic string) {
	c, w := d.elector, d.w
	w.recordStep(Step{Kind: StepElectLeaders, Client: c.id, Topic: topic})
	free := c.occupy()
	c.refreshTopics(func() {
		req := kmsg.NewPtrElectLeadersRequest()
		req.TimeoutMillis = int32(w.requestTimeout() / time.Millisecond)
		if topic != electAll {
			t := kmsg.ElectLeadersRequestTopic{Topic: topic}
			for p := range c.partitions(topic) {
				t.Partitions = append(t.Partitions, int32(p))
			}
			if len(t.Partitions) == 0 {
				free()
				return
			}
			req.Topics = []kmsg.ElectLeadersRequestTopic{t}
		}
		c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
			free()
			r, _ := resp.(*kmsg.ElectLeadersResponse)
			if err != nil || r == nil {
				return
			}
			if r.ErrorCode != 0 {
				w.cov.Inc("leaders:elect-refused:" + strings.ToLower(errorName(r.ErrorCode)))
				return
			}
			for _, t := range r.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode == 0 {
						w.cov.Inc("leaders:preferred-elected")
					} else {
						w.cov.Inc("leaders:elect:" + strings.ToLower(errorName(p.ErrorCode)))
					}
				}
			}
		})
	})
}
