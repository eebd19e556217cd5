package disksim

import (
	"bytes"
	"errors"
	"io"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"

	"pgregory.net/rapid"
)

// model is the trivial file system disksim must agree with while nothing crashes.
type model struct {
	files map[string][]byte
	dirs  map[string]bool // every directory but the root
}

var (
	modelPaths = []string{"a", "b", "d", "d/a", "d/b", "d/e", "d/e/a", "x", "x/a"}
	modelErrs  = []error{syscall.ENOENT, syscall.ENOTDIR, syscall.EISDIR, syscall.ENOTEMPTY, syscall.EINVAL}
)

// errClass names the errno an error wraps, "" for nil.
func errClass(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range modelErrs {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other: " + err.Error()
}

func class(e syscall.Errno) string { return e.Error() }

func (m *model) isFile(p string) bool { _, ok := m.files[p]; return ok }

// resolve says whether p's parents are all directories: ENOTDIR if one is a file,
// ENOENT if one is missing.
func (m *model) parents(p string) string {
	parts := strings.Split(p, "/")
	for i := 1; i < len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		if m.isFile(prefix) {
			return class(syscall.ENOTDIR)
		}
		if !m.dirs[prefix] {
			return class(syscall.ENOENT)
		}
	}
	return ""
}

func (m *model) lookup(p string) string {
	if e := m.parents(p); e != "" {
		return e
	}
	if !m.isFile(p) && !m.dirs[p] {
		return class(syscall.ENOENT)
	}
	return ""
}

// dirErr is the error of an operation that needs dir to be a directory.
func (m *model) dirErr(dir string) string {
	if dir == "." {
		return ""
	}
	if e := m.lookup(dir); e != "" {
		return e
	}
	if m.isFile(dir) {
		return class(syscall.ENOTDIR)
	}
	return ""
}

func (m *model) hasChildren(dir string) bool {
	for p := range m.files {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	for p := range m.dirs {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

func (m *model) children(dir string) []string {
	var out []string
	for _, set := range []map[string]bool{m.dirs, boolKeys(m.files)} {
		for p := range set {
			parent, base := path.Split(p)
			if path.Clean(parent) == dir || (dir == "." && parent == "") {
				out = append(out, base)
			}
		}
	}
	slices.Sort(out)
	return out
}

func boolKeys(m map[string][]byte) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func (m *model) create(p string) string {
	if e := m.parents(p); e != "" {
		return e
	}
	if m.dirs[p] {
		return class(syscall.EISDIR)
	}
	m.files[p] = []byte{}
	return ""
}

func (m *model) openFile(p string) string {
	if e := m.lookup(p); e != "" {
		return e
	}
	if m.dirs[p] {
		return class(syscall.EISDIR)
	}
	return ""
}

func (m *model) mkdirAll(p string) string {
	parts := strings.Split(p, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		if m.isFile(prefix) {
			return class(syscall.ENOTDIR)
		}
		m.dirs[prefix] = true
	}
	return ""
}

func (m *model) remove(p string) string {
	if e := m.lookup(p); e != "" {
		return e
	}
	if m.dirs[p] {
		if m.hasChildren(p) {
			return class(syscall.ENOTEMPTY)
		}
		delete(m.dirs, p)
		return ""
	}
	delete(m.files, p)
	return ""
}

func (m *model) rename(from, to string) string {
	if e := m.lookup(from); e != "" {
		return e
	}
	if e := m.parents(to); e != "" {
		return e
	}
	if m.dirs[from] && strings.HasPrefix(to, from+"/") {
		return class(syscall.EINVAL)
	}
	if from == to {
		return ""
	}
	switch {
	case m.isFile(from) && m.dirs[to]:
		return class(syscall.EISDIR)
	case m.dirs[from] && m.isFile(to):
		return class(syscall.ENOTDIR)
	case m.dirs[from] && m.dirs[to] && m.hasChildren(to):
		return class(syscall.ENOTEMPTY)
	}
	if m.isFile(from) {
		m.files[to] = m.files[from]
		delete(m.files, from)
		return ""
	}
	delete(m.dirs, to)
	moved := map[string][]byte{}
	for p, data := range m.files {
		if strings.HasPrefix(p, from+"/") {
			moved[to+strings.TrimPrefix(p, from)] = data
			delete(m.files, p)
		}
	}
	for p := range m.dirs {
		if p == from || strings.HasPrefix(p, from+"/") {
			delete(m.dirs, p)
			m.dirs[to+strings.TrimPrefix(p, from)] = true
		}
	}
	for p, data := range moved {
		m.files[p] = data
	}
	return ""
}

// TestAgainstModel drives disksim and the model with the same random operations and
// compares every result. Syncs and crashes that keep everything must not change what a
// reader sees.
func TestAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := New(seeded(rapid.Uint64().Draw(t, "seed")), Config{})
		m := &model{files: map[string][]byte{}, dirs: map[string]bool{}}
		pathGen := rapid.SampledFrom(modelPaths)
		same := func(op, got, want string) {
			if got != want {
				t.Fatalf("%s: disksim %q, model %q\n%s", op, got, want, f.DumpTree())
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				p := pathGen.Draw(t, "path")
				h, err := f.Create(p)
				same("create "+p, errClass(err), m.create(p))
				if err == nil {
					h.Close()
				}
			},
			"mkdirAll": func(t *rapid.T) {
				p := pathGen.Draw(t, "path")
				same("mkdir "+p, errClass(f.MkdirAll(p)), m.mkdirAll(p))
			},
			"remove": func(t *rapid.T) {
				p := pathGen.Draw(t, "path")
				same("remove "+p, errClass(f.Remove(p)), m.remove(p))
			},
			"rename": func(t *rapid.T) {
				from, to := pathGen.Draw(t, "from"), pathGen.Draw(t, "to")
				same("rename "+from+" "+to, errClass(f.Rename(from, to)), m.rename(from, to))
			},
			"write": func(t *rapid.T) {
				p := pathGen.Draw(t, "path")
				off := rapid.Int64Range(0, 3*BlockSize).Draw(t, "off")
				data := rapid.SliceOfN(rapid.Byte(), 1, 2*BlockSize).Draw(t, "data")
				h, err := f.Open(p)
				same("open "+p, errClass(err), m.openFile(p))
				if err != nil {
					return
				}
				defer h.Close()
				if _, err := h.WriteAt(data, off); err != nil {
					t.Fatalf("write: %v", err)
				}
				cur := m.files[p]
				if end := off + int64(len(data)); end > int64(len(cur)) {
					cur = append(cur, make([]byte, end-int64(len(cur)))...)
				}
				copy(cur[off:], data)
				m.files[p] = cur
			},
			"truncate": func(t *rapid.T) {
				p := pathGen.Draw(t, "path")
				size := rapid.Int64Range(0, 4*BlockSize).Draw(t, "size")
				h, err := f.Open(p)
				same("open "+p, errClass(err), m.openFile(p))
				if err != nil {
					return
				}
				defer h.Close()
				must(t, h.Truncate(size))
				cur := m.files[p]
				if size <= int64(len(cur)) {
					cur = cur[:size:size]
				} else {
					cur = append(cur, make([]byte, size-int64(len(cur)))...)
				}
				m.files[p] = cur
			},
			"read": func(t *rapid.T) {
				p := pathGen.Draw(t, "path")
				off := rapid.Int64Range(0, 5*BlockSize).Draw(t, "off")
				n := rapid.IntRange(0, 2*BlockSize).Draw(t, "n")
				h, err := f.Open(p)
				same("open "+p, errClass(err), m.openFile(p))
				if err != nil {
					return
				}
				defer h.Close()
				got := make([]byte, n)
				k, err := h.ReadAt(got, off)
				cur := m.files[p]
				want := []byte{}
				if off < int64(len(cur)) {
					want = cur[off:min(int64(len(cur)), off+int64(n))]
				}
				if k != len(want) || !bytes.Equal(got[:k], want) {
					t.Fatalf("read %s [%d,+%d): %d bytes, want %d", p, off, n, k, len(want))
				}
				if (k < n) != (err == io.EOF) || (err != nil && err != io.EOF) {
					t.Fatalf("read %s: err %v with %d of %d bytes", p, err, k, n)
				}
			},
			"stat": func(t *rapid.T) {
				p := pathGen.Draw(t, "path")
				info, err := f.Stat(p)
				same("stat "+p, errClass(err), m.lookup(p))
				if err == nil && (info.IsDir != m.dirs[p] || info.Size != int64(len(m.files[p]))) {
					t.Fatalf("stat %s = %+v", p, info)
				}
			},
			"list": func(t *rapid.T) {
				dir := rapid.SampledFrom(append([]string{"."}, modelPaths...)).Draw(t, "dir")
				names, err := f.List(dir)
				same("list "+dir, errClass(err), m.dirErr(dir))
				if err == nil && !slices.Equal(names, m.children(dir)) {
					t.Fatalf("list %s = %v, want %v", dir, names, m.children(dir))
				}
			},
			"sync": func(t *rapid.T) {
				p := pathGen.Draw(t, "path")
				if h, err := f.Open(p); err == nil {
					must(t, h.Sync())
					h.Close()
				}
				dir := path.Dir(p)
				same("syncdir "+dir, errClass(f.SyncDir(dir)), m.dirErr(dir))
			},
			"crashKeepAll": func(t *rapid.T) {
				f = f.CrashWith(seeded(rapid.Uint64().Draw(t, "crashSeed")), CrashKeepAll())
			},
			"": func(t *rapid.T) {
				if err := f.CheckInvariants(); err != nil {
					t.Fatalf("invariants: %v\n%s", err, f.DumpTree())
				}
			},
		})
	})
}

// TestCrashSectorsComeFromDurableOrCurrent writes and syncs at random, crashes with a
// random configuration and checks that every sector of the result is the sector of the
// last durable image or of the current image (zeros beyond either's end).
func TestCrashSectorsComeFromDurableOrCurrent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := New(seeded(rapid.Uint64().Draw(t, "seed")), Config{})
		h := create(t, f, "a")
		must(t, f.SyncDir("."))
		var durable, current []byte
		steps := rapid.IntRange(1, 20).Draw(t, "steps")
		for range steps {
			if rapid.Bool().Draw(t, "sync") {
				must(t, h.Sync())
				durable = slices.Clone(current)
				continue
			}
			off := rapid.IntRange(0, 4*BlockSize).Draw(t, "off")
			data := rapid.SliceOfN(rapid.Byte(), 1, 2*BlockSize).Draw(t, "data")
			writeAt(t, h, data, int64(off))
			if end := off + len(data); end > len(current) {
				current = append(current, make([]byte, end-len(current))...)
			}
			copy(current[off:], data)
		}
		cc := CrashConfig{
			BlockKeepWeight:  rapid.Uint32Range(0, 3).Draw(t, "keep"),
			BlockDropWeight:  rapid.Uint32Range(0, 3).Draw(t, "drop"),
			BlockTearWeight:  rapid.Uint32Range(1, 3).Draw(t, "tear"),
			SectorKeepProb:   rapid.Float64Range(0, 1).Draw(t, "sector"),
			EntryKeepProb:    1,
			TruncateKeepProb: 1,
		}
		c := f.CrashWith(seeded(rapid.Uint64().Draw(t, "crashSeed")), cc)
		checked(t, c)
		got := contents(t, c, "a")
		if len(got) < len(durable) || len(got) > len(current) {
			t.Fatalf("size %d outside [%d, %d]", len(got), len(durable), len(current))
		}
		at := func(b []byte, lo, hi int) []byte {
			out := make([]byte, hi-lo)
			if lo < len(b) {
				copy(out, b[lo:min(hi, len(b))])
			}
			return out
		}
		for lo := 0; lo < len(got); lo += SectorSize {
			hi := min(lo+SectorSize, len(got))
			s := got[lo:hi]
			if !bytes.Equal(s, at(durable, lo, hi)) && !bytes.Equal(s, at(current, lo, hi)) {
				t.Fatalf("sector at %d is neither durable nor current", lo)
			}
		}
	})
}
