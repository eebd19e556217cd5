package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// devCluster is a `seedlog dev` process.
type devCluster struct {
	t         *testing.T
	dir       string // XDG_RUNTIME_DIR of the cluster and of the client commands
	bootstrap string
	// banner is what the cluster printed up to its "try:" line.
	banner []string
	// tlsCA is the CA of the client listeners that `seedlog dev --tls` printed; the
	// tests' franz-go clients trust it.
	tlsCA   string
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
}

// startDev starts `seedlog dev` with free ports and waits for its bootstrap line, by
// which time every broker must be in the metadata. The cluster must stop cleanly on
// SIGINT at the end of the test.
func startDev(t *testing.T, brokers int, extra ...string) *devCluster {
	t.Helper()
	d := &devCluster{t: t, dir: t.TempDir(), exited: make(chan struct{})}
	args := append([]string{"dev", "--port", fmt.Sprint(freeDevPort(t, brokers)), "--brokers", fmt.Sprint(brokers), "--data", filepath.Join(d.dir, "data")}, extra...)
	d.cmd = exec.Command(seedlogBin, args...)
	d.cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+d.dir)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(d.dir, "dev.log"))
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = logf
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		d.exitErr = d.cmd.Wait()
		logf.Close()
		close(d.exited)
	}()
	t.Cleanup(d.stop)
	timeout := time.After(30 * time.Second)
	for len(d.banner) == 0 || !strings.HasPrefix(d.banner[len(d.banner)-1], "try: ") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("seedlog dev exited before printing its bootstrap address:\n%s", tail(filepath.Join(d.dir, "dev.log"), 20))
			}
			d.banner = append(d.banner, l)
			if b, found := strings.CutPrefix(l, "bootstrap: "); found {
				d.bootstrap = b
			}
			if ca, found := strings.CutPrefix(l, "  seedlog:  --tls --tls-ca "); found {
				d.tlsCA = ca
			}
		case <-timeout:
			t.Fatalf("seedlog dev printed no bootstrap address and hint in 30s; it printed:\n%s", strings.Join(d.banner, "\n"))
		}
	}
	if d.bootstrap == "" {
		t.Fatalf("seedlog dev printed no bootstrap address:\n%s", strings.Join(d.banner, "\n"))
	}
	go func() {
		for range lines {
		}
	}()
	recorded, err := os.ReadFile(filepath.Join(d.dir, "seedlog-dev", "bootstrap"))
	if err != nil || strings.TrimSpace(string(recorded)) != d.bootstrap {
		t.Fatalf("bootstrap file holds %q (%v), printed %q", recorded, err, d.bootstrap)
	}
	// The bootstrap line promises a cluster that takes work: every broker registered
	// and unfenced, a controller active. One request, no waiting.
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), d.client())
	if err != nil || len(resp.Brokers) != brokers || resp.ControllerID < 0 {
		t.Fatalf("dev cluster printed its bootstrap address with the metadata saying %+v (%v), want %d brokers and a controller", resp, err, brokers)
	}
	return d
}

func (d *devCluster) seeds() []string { return strings.Split(d.bootstrap, ",") }

func (d *devCluster) client(opts ...kgo.Opt) *kgo.Client {
	d.t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(d.seeds()...), kgo.FetchMaxWait(500 * time.Millisecond)}
	if d.tlsCA != "" {
		base = append(base, kgo.DialTLSConfig(trusting(d.t, d.tlsCA)))
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(cl.Close)
	return cl
}

// stop interrupts the cluster like Ctrl-C and expects a clean exit. After a failed test
// it shows the end of the brokers' log first.
func (d *devCluster) stop() {
	if d.t.Failed() {
		d.t.Logf("---- seedlog dev log (tail) ----\n%s", tail(filepath.Join(d.dir, "dev.log"), 200))
	}
	d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.exited:
		if d.exitErr != nil {
			d.t.Errorf("seedlog dev exited with %v after SIGINT:\n%s", d.exitErr, tail(filepath.Join(d.dir, "dev.log"), 20))
		}
	case <-time.After(30 * time.Second):
		d.t.Errorf("seedlog dev still running 30s after SIGINT")
		d.cmd.Process.Kill()
		<-d.exited
	}
	if _, err := os.Stat(filepath.Join(d.dir, "seedlog-dev", "bootstrap")); err == nil {
		d.t.Errorf("seedlog dev left its bootstrap file behind")
	}
}

// result is the outcome of a seedlog command.
type result struct {
	code           int
	stdout, stderr string
}

// seedlog runs the binary with the dev cluster's environment (so client commands find it
// without -b), feeding stdin.
func (d *devCluster) seedlog(stdin string, args ...string) result {
	d.t.Helper()
	return runSeedlogIn(d.t, d.dir, stdin, args...)
}

// runSeedlogIn runs the binary with runtime directory dir (where it finds a running dev
// cluster), feeding stdin.
func runSeedlogIn(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, seedlogBin, args...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("seedlog %s: %v", strings.Join(args, " "), err)
	}
	return result{code, out.String(), errb.String()}
}

// must runs a seedlog command that must succeed.
func (d *devCluster) must(stdin string, args ...string) string {
	d.t.Helper()
	r := d.seedlog(stdin, args...)
	if r.code != 0 {
		d.t.Fatalf("seedlog %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}
