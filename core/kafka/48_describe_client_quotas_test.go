package kafka

import (
	"fmt"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The filters of DescribeClientQuotas: exact, default and any matches, strict, and the
// malformed filters Kafka refuses.
func TestDescribeClientQuotas(t *testing.T) {
	im := testImage(t)
	entities := []metadata.QuotaEntity{
		{HasUser: true, User: "alice"},
		{HasUser: true},
		{HasUser: true, User: "alice", HasClientID: true, ClientID: "app"},
		{HasUser: true, User: "alice", HasClientID: true},
		{HasClientID: true, ClientID: "app"},
		{HasClientID: true},
	}
	for i, e := range entities {
		next, err := im.Apply(im.Offset()+1, metadata.ClientQuota{Entity: e, Key: metadata.QuotaProducerByteRate, Value: float64(100 * (i + 1))})
		if err != nil {
			t.Fatal(err)
		}
		im = next
	}
	v := View{Image: im}
	name := func(s string) *string { return &s }
	comp := func(typ string, kind int8, match *string) kmsg.DescribeClientQuotasRequestComponent {
		return kmsg.DescribeClientQuotasRequestComponent{EntityType: typ, MatchType: kmsg.QuotasMatchType(kind), Match: match}
	}
	cases := []struct {
		name   string
		strict bool
		comps  []kmsg.DescribeClientQuotasRequestComponent
		want   string // entities, or an error code
	}{
		{"everything", false, nil, "client-id=<default> client-id=app user=<default> user=alice user=alice,client-id=<default> user=alice,client-id=app"},
		{"strict nothing", true, nil, ""},
		{"exact user", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", 0, name("alice"))}, "user=alice user=alice,client-id=<default> user=alice,client-id=app"},
		{"exact user strict", true, []kmsg.DescribeClientQuotasRequestComponent{comp("user", 0, name("alice"))}, "user=alice"},
		{"default user", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", 1, nil)}, "user=<default>"},
		{"any client strict", true, []kmsg.DescribeClientQuotasRequestComponent{comp("client-id", 2, nil)}, "client-id=<default> client-id=app"},
		{"user and client", true, []kmsg.DescribeClientQuotasRequestComponent{comp("user", 2, nil), comp("client-id", 0, name("app"))}, "user=alice,client-id=app"},
		{"unknown type", false, []kmsg.DescribeClientQuotasRequestComponent{comp("ip", 2, nil)}, "error 42"},
		{"twice", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", 2, nil), comp("user", 1, nil)}, "error 42"},
		{"exact without name", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", 0, nil)}, "error 42"},
		{"default with name", false, []kmsg.DescribeClientQuotasRequestComponent{comp("user", 1, name("x"))}, "error 42"},
	}
	for _, c := range cases {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		req.Version, req.Strict, req.Components = 1, c.strict, c.comps
		resp := DescribeClientQuotas(v, viaWire(t, req))
		checkWire(t, resp)
		var got []string
		if resp.ErrorCode != 0 {
			got = append(got, fmt.Sprintf("error %d", resp.ErrorCode))
		}
		for _, e := range resp.Entries {
			var parts []string
			for _, p := range e.Entity {
				n := "<default>"
				if p.Name != nil {
					n = *p.Name
				}
				parts = append(parts, p.Type+"="+n)
			}
			if len(e.Values) != 1 || e.Values[0].Key != metadata.QuotaProducerByteRate {
				t.Fatalf("%s: values %+v", c.name, e.Values)
			}
			got = append(got, strings.Join(parts, ","))
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("%s: got %q, want %q", c.name, s, c.want)
		}
	}
}
