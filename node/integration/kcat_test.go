package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kcatPath installs kcat through scripts/kcat.sh when missing. Where that cannot be
// done the test skips, saying why, except under CI (CI=true), where a kcat that cannot
// be installed is a failure: CI must not go green without the compatibility test.
func kcatPath(t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "kcat.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(script)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kcat is not available under CI (%v): %s", err, strings.TrimSpace(errb.String()))
		}
		t.Skipf("kcat is not available (%v): %s", err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String())
}

// kcat runs kcat with stdin and returns its stdout.
func kcat(t *testing.T, bin, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// codecs are the batch compression codecs and their ids in the batch attributes.
var codecs = []struct {
	name string
	id   uint8
}{{"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}}

// TestKcat produces with librdkafka (kcat) in every compression codec, consumes it back
// with kcat, checks that the batches are stored compressed, and consumes as a kcat
// consumer group whose offsets are committed at the end.
func TestKcat(t *testing.T) {
	t.Parallel()
	bin := kcatPath(t)
	d := startDev(t, 3)
	admin := d.client()
	for _, codec := range codecs {
		topic := "kcat-" + codec.name
		d.must("", "topic", "create", topic, "--partitions", "3", "--replication-factor", "3")
		waitLeaders(t, admin, topic, 3)

		var in strings.Builder
		var want []string
		for i := range 300 {
			// librdkafka may send a batch uncompressed when compressing it saves
			// nothing (seen with snappy and a batch of one short record): every value
			// carries a long run, so even a batch of one record shrinks.
			line := fmt.Sprintf("k%d:%s value %d %s", i, codec.name, i, strings.Repeat("x", 100+i%50))
			in.WriteString(line + "\n")
			want = append(want, line)
		}
		kcat(t, bin, in.String(), "-b", d.bootstrap, "-P", "-t", topic, "-z", codec.name, "-K:")
		got := lines(kcat(t, bin, "", "-b", d.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k:%s\n"))
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: kcat read back %d records, want the %d written", codec.name, len(got), len(want))
		}
		checkCodec(t, d, topic, codec.id, len(want))
	}

	topic := "kcat-gzip"
	got := lines(kcat(t, bin, "", "-b", d.bootstrap, "-G", "kcat-group", "-o", "beginning", "-e", "-q", "-f", "%s\n", topic))
	if len(got) != 300 {
		t.Fatalf("kcat -G read %d records of %s, want 300", len(got), topic)
	}
	if cur, lag := groupTotals(t, d.must("", "group", "describe", "kcat-group")); cur != 300 || lag != 0 {
		t.Errorf("kcat-group after reading everything: committed %d, lag %d; want 300 and 0", cur, lag)
	}
}

// checkCodec reads topic with franz-go and checks that every record came in a batch
// compressed with codec.
func checkCodec(t *testing.T, d *devCluster, topic string, codec uint8, want int) {
	t.Helper()
	cl := d.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 0
	for n < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read %d of %d records", topic, n, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if c := r.Attrs.CompressionType(); c != codec {
				t.Fatalf("%s: record at %d/%d is in a batch with codec %d, want %d", topic, r.Partition, r.Offset, c, codec)
			}
		})
	}
}

func waitLeaders(t *testing.T, cl *kgo.Client, topic string, partitions int) {
	t.Helper()
	waitFor(t, "leaders for "+topic, func() bool {
		req := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, mt)
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != partitions {
			return false
		}
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return false
			}
		}
		return true
	})
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
