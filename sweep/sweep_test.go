package sweep

import (
	"bytes"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/sim/simtest"
	"github.com/seedlog/seedlog/traces"
)

func TestJobsDoNotChangeResults(t *testing.T) {
	base := simtest.Options(0, false)
	one := Run(Config{Base: base, Seeds: 24, Start: 100, Jobs: 1})
	two := Run(Config{Base: base, Seeds: 24, Start: 100, Jobs: 2})
	four := Run(Config{Base: base, Seeds: 24, Start: 100, Jobs: 4})
	if len(one.Seeds) != 24 {
		t.Fatalf("%d seeds ran, want 24", len(one.Seeds))
	}
	for i, s := range one.Seeds {
		if s.Seed != 100+uint64(i) {
			t.Fatalf("result %d is seed %d: not in seed order", i, s.Seed)
		}
	}
	if !maps.Equal(one.Fingerprints(), two.Fingerprints()) || !maps.Equal(one.Fingerprints(), four.Fingerprints()) {
		t.Fatal("per-seed fingerprints depend on the number of jobs")
	}
	if len(one.Failed()) != 0 {
		t.Fatalf("the correct toy failed: %v", one.Failed()[0].Failure)
	}
	var buf bytes.Buffer
	one.Write(&buf)
	if !strings.Contains(buf.String(), "24 seeds, 0 failed") || !strings.Contains(buf.String(), "coverage:") || strings.Contains(buf.String(), "mode:") {
		t.Fatalf("summary:\n%s", buf.String())
	}
}

func TestStopAtFirstFailureIsDeterministic(t *testing.T) {
	base := simtest.Options(0, true) // the toy that acknowledges too early
	dir := t.TempDir()
	var firsts []uint64
	for _, jobs := range []int{1, 3} {
		s := Run(Config{Base: base, Seeds: 200, Start: 1, Jobs: jobs, StopAtFirstFailure: true, OutDir: dir})
		first, ok := s.FirstFailure()
		if !ok {
			t.Fatal("200 seeds did not catch the early-acknowledging toy")
		}
		if len(s.Failed()) != 1 || s.Seeds[len(s.Seeds)-1].Seed != first.Seed {
			t.Fatalf("jobs %d: ran past the first failure (%d failures, last seed %d)", jobs, len(s.Failed()), s.Seeds[len(s.Seeds)-1].Seed)
		}
		if first.TraceError != "" || first.TracePath == "" {
			t.Fatalf("trace: %q %q", first.TracePath, first.TraceError)
		}
		firsts = append(firsts, first.Seed)
	}
	if firsts[0] != firsts[1] {
		t.Fatalf("first failure at seed %d with 1 job, %d with 3", firsts[0], firsts[1])
	}
	tr, err := ReadTrace(dir, firsts[0])
	if err != nil {
		t.Fatal(err)
	}
	if tr.Header.Failure == "" || tr.Header.Checker != "linearizability" || tr.Header.Linearizability == "" {
		t.Fatalf("trace header: checker %q failure %q", tr.Header.Checker, tr.Header.Failure)
	}
	if err := tr.CheckFingerprint(); err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := traces.WriteHTML(&page, tr); err != nil || !strings.Contains(page.String(), "srcdoc=") {
		t.Fatalf("html: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
