// Package integration runs seedlog as real processes on 127.0.0.1 and drives them with
// real clients (franz-go, kcat): replication through kill -9 and full restarts, consumer
// groups losing a member, and every compression codec from librdkafka.
//
// TestMain builds the seedlog binary once. Set SEEDLOG_TEST_KEEP=1 to keep the data and
// log directories of a run for inspection, SEEDLOG_TEST_LOG_LEVEL=debug for the brokers'
// debug logs.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// seedlogBin is the binary under test, built by TestMain.
var seedlogBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "seedlog-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	seedlogBin = filepath.Join(dir, "seedlog")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	build := exec.Command(goTool, "build", "-o", seedlogBin, "github.com/seedlog/seedlog/cmd/seedlog")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building seedlog: %v\n", err)
		return 1
	}
	return m.Run()
}
