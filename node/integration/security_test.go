package integration

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// runSeedlog runs the binary with stdin, outside any dev cluster.
func runSeedlog(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runSeedlogIn(t, t.TempDir(), stdin, args...)
}

func mustSeedlog(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := runSeedlog(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("seedlog %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// TestSASLAndACLs runs three brokers whose client listeners take SASL_SSL, with the
// authorizer on and a PLAINTEXT listener for the anonymous super user that creates the
// first users. franz-go and kcat authenticate with SCRAM-SHA-512 over TLS; a wrong
// password, an unknown user and a plaintext client are refused with errors the clients
// show; a principal without ACLs can neither read, write, delete topics nor reset
// offsets, until an ACL lets it read; a super user can do all of it.
func TestSASLAndACLs(t *testing.T) {
	pki := newBrokerPKI(t, 3)
	settings := pki.settings()
	settings["listener.security.protocol.map"] = "SSL:SASL_SSL,ADMIN:PLAINTEXT,PEER:PLAINTEXT"
	settings["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	settings["super.users"] = "User:ANONYMOUS;User:admin"
	c := newClusterWith(t, 3, clusterOpts{clientListener: "SSL", settings: settings, adminListener: true})
	trust := trusting(t, pki.caFile())
	admin := []string{"-b", c.procs[0].adminAddr, "--timeout", "20s"}
	c.waitListening(c.procs[0].adminAddr)
	// The anonymous super user on the PLAINTEXT listener creates the first users.
	mustSeedlog(t, "admin-pw\n", append([]string{"user", "create", "admin"}, admin...)...)
	mustSeedlog(t, "alice-pw\n", append([]string{"user", "create", "alice", "--mechanism", "both"}, admin...)...)
	if out := mustSeedlog(t, "", append([]string{"user", "list"}, admin...)...); !strings.Contains(out, "alice  SCRAM-SHA-256") || !strings.Contains(out, "alice  SCRAM-SHA-512") {
		t.Fatalf("user list:\n%s", out)
	}
	as := func(user, pw string, opts ...kgo.Opt) *kgo.Client {
		return c.client(append([]kgo.Opt{kgo.DialTLSConfig(trust), kgo.SASL(scram.Auth{User: user, Pass: pw}.AsSha512Mechanism()),
			kgo.RetryTimeout(5 * time.Second)}, opts...)...)
	}
	su := as("admin", "admin-pw")
	c.waitBrokers(su, 3)
	c.createTopic(su, "secure", 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: "secure", Value: []byte{byte('a' + i)}})
	}
	if err := su.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("the super user producing over SASL_SSL: %v", err)
	}
	t.Run("refused logins", func(t *testing.T) {
		for _, tc := range []struct{ user, pw string }{{"alice", "wrong"}, {"mallory", "alice-pw"}} {
			cl := as(tc.user, tc.pw)
			_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Errorf("%s with password %s: %v, want SASL_AUTHENTICATION_FAILED", tc.user, tc.pw, err)
			}
		}
	})

	alice := as("alice", "alice-pw")
	adm := kadm.NewClient(alice)
	t.Run("no ACLs, no access", func(t *testing.T) {
		topics, err := adm.ListTopics(ctx)
		if err != nil || topics.Has("secure") {
			t.Fatalf("alice lists %v (%v); the topic must stay hidden", topics.Names(), err)
		}
		// Idempotent or not, the producer meets the topic's checks (franz-go's metadata
		// request is refused first).
		err = alice.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("alice producing idempotently: %v", err)
		}
		plain := as("alice", "alice-pw", kgo.DisableIdempotentWrite())
		err = plain.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("alice producing: %v", err)
		}
		if r, err := adm.DeleteTopics(ctx, "secure"); err != nil || !errors.Is(r["secure"].Err, kerr.TopicAuthorizationFailed) {
			t.Errorf("alice deleting the topic: %v %v", r["secure"].Err, err)
		}
		reader := as("alice", "alice-pw", kgo.ConsumeTopics("secure"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		for read := false; !read; {
			fs := reader.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatal("alice's consumer neither read nor was refused")
			}
			for _, e := range fs.Errors() {
				if !errors.Is(e.Err, kerr.TopicAuthorizationFailed) {
					t.Fatalf("alice reading: %v", e.Err)
				}
				read = true
			}
			if fs.NumRecords() > 0 {
				t.Fatalf("alice read %d records without an ACL", fs.NumRecords())
			}
		}
		reader.Close()
		// Resetting a group's offsets is an OffsetCommit outside the group's generation.
		commit := kmsg.NewPtrOffsetCommitRequest()
		commit.Group, commit.Generation = "alice-app", -1
		commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "secure", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 0, LeaderEpoch: -1}}}}
		resp, err := commit.RequestWith(ctx, alice)
		if err == nil && len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 {
			err = kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
		}
		if !errors.Is(err, kerr.GroupAuthorizationFailed) {
			t.Errorf("alice resetting offsets: %v", err)
		}
		if r := runSeedlog(t, "", "acl", "list", "-b", c.procs[0].clientAddr, "--tls", "--tls-ca", pki.caFile(),
			"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice", "--sasl-password", "alice-pw", "--timeout", "20s"); r.code != 1 || !strings.Contains(r.stderr, "CLUSTER_AUTHORIZATION_FAILED") {
			t.Errorf("alice listing ACLs: exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("an ACL lets alice read", func(t *testing.T) {
		adminFlags := []string{"-b", c.procs[1].clientAddr, "--tls", "--tls-ca", pki.caFile(),
			"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "admin", "--timeout", "20s"}
		cmd := append([]string{"acl", "create", "--allow", "User:alice", "--operation", "read", "--topic", "sec", "--prefixed"}, adminFlags...)
		os.Setenv("SEEDLOG_SASL_PASSWORD", "admin-pw")
		out := mustSeedlog(t, "", cmd...)
		os.Unsetenv("SEEDLOG_SASL_PASSWORD")
		if !strings.Contains(out, "created") {
			t.Fatalf("acl create: %s", out)
		}
		// The answer came once every broker applied it: alice reads at once.
		cons := as("alice", "alice-pw", kgo.ConsumeTopics("secure"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		got := 0
		for got < 20 {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("alice read %d of 20 records", got)
			}
			for _, e := range fs.Errors() {
				t.Fatalf("alice fetching: %v", e.Err)
			}
			got += fs.NumRecords()
		}
		plain := as("alice", "alice-pw", kgo.DisableIdempotentWrite())
		err := plain.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("alice producing with READ only: %v", err)
		}
	})

	t.Run("the super user deletes the topic", func(t *testing.T) {
		c.createTopic(su, "scratch", 1, 1)
		if r, err := kadm.NewClient(su).DeleteTopics(ctx, "scratch"); err != nil || r["scratch"].Err != nil {
			t.Fatalf("admin deleting a topic: %v %v", r["scratch"].Err, err)
		}
	})

	t.Run("kcat", func(t *testing.T) {
		bin := kcatPath(t)
		out := kcat(t, bin, "", "-b", c.procs[2].clientAddr, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location="+pki.caFile(),
			"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=alice", "-X", "sasl.password=alice-pw",
			"-C", "-t", "secure", "-o", "beginning", "-e", "-q")
		if n := len(lines(out)); n != 20 {
			t.Fatalf("kcat as alice read %d records, want 20", n)
		}
	})

	t.Run("removing the ACL and the user", func(t *testing.T) {
		adminFlags := []string{"-b", c.procs[1].clientAddr, "--tls", "--tls-ca", pki.caFile(),
			"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "admin", "--sasl-password", "admin-pw", "--timeout", "20s"}
		if out := mustSeedlog(t, "", append([]string{"acl", "delete", "--allow", "User:alice", "--topic", "sec", "--prefixed"}, adminFlags...)...); !strings.Contains(out, "deleted 1 ACL") {
			t.Fatalf("acl delete: %s", out)
		}
		offsets, err := kadm.NewClient(as("alice", "alice-pw")).ListEndOffsets(ctx, "secure")
		if err == nil {
			err = offsets.Error()
		}
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("alice listing offsets after her ACL was deleted: %v", err)
		}
		mustSeedlog(t, "", append([]string{"user", "delete", "alice"}, admin...)...)
		_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, as("alice", "alice-pw"))
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("alice logging in after her user was deleted: %v", err)
		}
	})
}
