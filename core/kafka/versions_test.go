package kafka

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestHandlerHeadersMatchServedTable keeps each handler file's opening comment and the
// served-versions table in agreement.
func TestHandlerHeadersMatchServedTable(t *testing.T) {
	files, err := filepath.Glob("[0-9][0-9]_*.go")
	if err != nil {
		t.Fatal(err)
	}
	header := regexp.MustCompile(`(?m)^// \w+, key (\d+), versions (\d+)-(\d+)\.`)
	checked := 0
	for _, f := range files {
		if matched, _ := filepath.Match("*_test.go", f); matched {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := header.FindSubmatch(src)
		if m == nil {
			t.Errorf("%s: no \"// Name, key K, versions A-B.\" header", f)
			continue
		}
		key, _ := strconv.Atoi(string(m[1]))
		lo, _ := strconv.Atoi(string(m[2]))
		hi, _ := strconv.Atoi(string(m[3]))
		min, max, ok := Served.Range(int16(key))
		if !ok || int(min) != lo || int(max) != hi {
			t.Errorf("%s: header says key %d versions %d-%d, the table serves %d-%d (served %v)", f, key, lo, hi, min, max, ok)
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("only %d handler files checked", checked)
	}
}
