// Package rules checks seedlog's source tree against DESIGN.md: which package may import
// which (section 2), and the determinism rules for core, sim, netsim, disksim, diskexec
// and peerauth (section 5), map iteration order included (maporder.go). The repository
// test in this package runs it over the whole module.
package rules

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Module is the module path; imports below it are classified by their top directory.
const Module = "github.com/seedlog/seedlog"

// Violation is one broken rule at a position in a file.
type Violation struct {
	Pos  token.Position
	Rule string
}

func (v Violation) String() string { return fmt.Sprintf("%s: %s", v.Pos, v.Rule) }

// coreStd is the standard library core may use: pure computation only. No os, no sync, no
// net, no crypto/rand. The hashes and MACs serve the SASL exchanges, which are pure.
var coreStd = set("bufio", "bytes", "cmp", "container/heap", "container/list",
	"crypto/hmac", "crypto/pbkdf2", "crypto/sha256", "crypto/sha512", "crypto/subtle",
	"encoding/base64", "encoding/binary", "encoding/hex", "encoding/json", "errors", "fmt",
	"hash", "hash/crc32", "hash/fnv", "io", "iter", "maps", "math", "math/bits",
	"math/rand/v2", "slices", "sort", "strconv", "strings", "time", "unicode",
	"unicode/utf8")

// coreThirdParty are the modules core may use (prefix match).
var coreThirdParty = []string{
	"github.com/twmb/franz-go/pkg/kmsg",
	"github.com/twmb/franz-go/pkg/kerr", // Kafka error codes: constants only
	"github.com/klauspost/compress",
	"github.com/pierrec/lz4/v4",
	"github.com/cespare/xxhash/v2",
}

// internalAllowed lists, for each top-level directory, the top-level directories of this
// module it may import. A directory missing from the map may import any of them except
// those in forbidden.
var internalAllowed = map[string][]string{
	"core":     {"core"},
	"storage":  {"core/record", "core/plant", "core/disk", "core/compact"}, // planted bugs compile away outside simbugs builds
	"disksim":  {"storage"},
	"netsim":   {},
	"peerauth": {"core/plant"}, // planted bugs compile away outside simbugs builds
	"traces":   {"core"},
	"diskexec": {"core", "storage"},
	"sim":      {"core", "storage", "disksim", "netsim", "traces", "diskexec", "peerauth"},
	"sweep":    {"sim", "traces", "core"},
	"node":     {"core", "storage", "diskexec", "internal", "peerauth"},
	"internal": {"core", "storage", "internal"},
}

// externalAllowed lists third-party modules (prefix match) per top directory, for the
// directories that have a closed list. true in stdOnly means standard library only.
var externalAllowed = map[string][]string{
	"core":     coreThirdParty,
	"storage":  {},
	"disksim":  {"github.com/cespare/xxhash/v2"},
	"netsim":   {},
	"peerauth": {},
	"traces":   {"github.com/cespare/xxhash/v2", "github.com/klauspost/compress", "github.com/anishathalye/porcupine", "github.com/twmb/franz-go/pkg/kmsg"},
	"diskexec": {"github.com/twmb/franz-go/pkg/kmsg"},
	"sim":      {"github.com/anishathalye/porcupine", "github.com/cespare/xxhash/v2", "github.com/twmb/franz-go/pkg/kmsg", "github.com/twmb/franz-go/pkg/kerr", "golang.org/x/exp"},
}

// deterministic are the directories bound by DESIGN.md section 5. diskexec is among
// them: the simulator runs it as the real node does, on its one goroutine.
var deterministic = set("core", "sim", "netsim", "disksim", "diskexec", "peerauth")

// bannedCalls are package-level functions that read the environment or the wall clock.
var bannedCalls = map[string]map[string]string{
	"time": {"Now": "wall clock", "Since": "wall clock", "Until": "wall clock",
		"Sleep": "timer", "After": "timer", "AfterFunc": "timer", "Tick": "timer",
		"NewTimer": "timer", "NewTicker": "timer"},
	"os": {"Getenv": "environment", "LookupEnv": "environment", "Environ": "environment",
		"Hostname": "environment", "Getpid": "environment"},
	"runtime": {"NumCPU": "environment", "GOMAXPROCS": "environment", "Gosched": "scheduler"},
}

// randConstructors are the math/rand functions that build a seeded source; every other
// package-level call uses the global source.
var randConstructors = set("New", "NewSource", "NewPCG", "NewChaCha8", "NewZipf")

// CheckTree checks every non-test Go file below root, which is the module root.
func CheckTree(root string) ([]Violation, error) {
	fset := token.NewFileSet()
	var out []Violation
	pkgs := map[string][]*ast.File{} // files of the map rule's directories, by directory
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, c, err := checkSyntax(fset, rel, src)
		if err != nil {
			return err
		}
		out = append(out, c.out...)
		if mapOrderDirs[c.dir] {
			dir := pathpkg.Dir(rel)
			pkgs[dir] = append(pkgs[dir], f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	vs, err := checkMapOrder(root, fset, pkgs)
	out = append(out, vs...)
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, err
}

// buildVariants are the build configurations the map rule type-checks: the default
// build, then the planted bugs' (a file only the latter has is judged in it).
var buildVariants = [][]string{nil, {"simbugs"}}

// checkMapOrder type-checks each package of the map rule's directories, in every build
// variant that has files the earlier ones lacked, and judges its map ranges.
func checkMapOrder(root string, fset *token.FileSet, pkgs map[string][]*ast.File) ([]Violation, error) {
	if len(pkgs) == 0 {
		return nil, nil
	}
	var patterns []string
	for _, d := range sortedSet(mapOrderDirs) {
		patterns = append(patterns, "./"+d+"/...")
	}
	var out []Violation
	judged := map[*ast.File]bool{}
	for _, tags := range buildVariants {
		exports := newExportData(root, tags)
		loaded := false
		ctx := build.Default
		ctx.BuildTags = tags
		for _, dir := range sortedKeys(pkgs) {
			bp, err := ctx.ImportDir(filepath.Join(root, filepath.FromSlash(dir)), 0)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", dir, err)
			}
			built := set(bp.GoFiles...)
			var files []*ast.File
			fresh := false
			for _, f := range pkgs[dir] {
				if built[pathpkg.Base(fset.Position(f.Pos()).Filename)] {
					files = append(files, f)
					fresh = fresh || !judged[f]
				}
			}
			if !fresh {
				continue
			}
			if !loaded {
				if err := exports.load(patterns...); err != nil {
					return nil, err
				}
				loaded = true
			}
			info, err := typeCheck(fset, files, exports, true)
			if err != nil {
				return nil, fmt.Errorf("%s (tags %v): %w", dir, tags, err)
			}
			for _, f := range files {
				if judged[f] {
					continue
				}
				judged[f] = true
				c := checker{fset: fset, dir: topDir(fset.Position(f.Pos()).Filename)}
				c.mapOrder(f, info)
				out = append(out, c.out...)
			}
		}
	}
	for _, dir := range sortedKeys(pkgs) {
		for _, f := range pkgs[dir] {
			if judged[f] {
				continue
			}
			c := checker{fset: fset, dir: topDir(fset.Position(f.Pos()).Filename)}
			ast.Inspect(f, func(n ast.Node) bool {
				if rs, ok := n.(*ast.RangeStmt); ok {
					c.report(rs.Pos(), "range in a file no build variant of the map iteration rule includes (%v): it cannot be type-checked", buildVariants)
				}
				return true
			})
			out = append(out, c.out...)
		}
	}
	return out, nil
}

// CheckFile checks the source of one file given by its path relative to the module root.
// A file of the map rule's directories is type-checked on its own for it, judged with
// whatever types resolve.
func CheckFile(rel string, src []byte) ([]Violation, error) {
	fset := token.NewFileSet()
	f, c, err := checkSyntax(fset, rel, src)
	if err != nil {
		return nil, err
	}
	if mapOrderDirs[c.dir] {
		info, err := typeCheck(fset, []*ast.File{f}, newExportData("", nil), false)
		if err != nil {
			return nil, err
		}
		c.mapOrder(f, info)
	}
	return c.out, nil
}

// checkSyntax parses one file and runs the checks that need no types.
func checkSyntax(fset *token.FileSet, rel string, src []byte) (*ast.File, *checker, error) {
	f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution|parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	c := &checker{fset: fset, dir: topDir(rel)}
	c.imports(f)
	if deterministic[c.dir] {
		c.determinism(f)
	}
	return f, c, nil
}

func topDir(rel string) string { return strings.Split(rel, "/")[0] }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedSet(m map[string]bool) []string { return sortedKeys(m) }

type checker struct {
	fset *token.FileSet
	dir  string
	out  []Violation
}

func (c *checker) report(pos token.Pos, format string, args ...any) {
	c.out = append(c.out, Violation{Pos: c.fset.Position(pos), Rule: fmt.Sprintf(format, args...)})
}

func (c *checker) imports(f *ast.File) {
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		switch {
		case path == Module || strings.HasPrefix(path, Module+"/"):
			c.internalImport(spec, strings.TrimPrefix(strings.TrimPrefix(path, Module), "/"))
		case isStd(path):
			if c.dir == "core" && !coreStd[path] {
				c.report(spec.Pos(), "core imports %q, which is not on the standard library allowlist", path)
			}
			if deterministic[c.dir] && path == "crypto/rand" {
				c.report(spec.Pos(), "%s imports crypto/rand: randomness must come from the seeded PRNG", c.dir)
			}
			if deterministic[c.dir] && path == "math/rand" {
				c.report(spec.Pos(), "%s imports math/rand: use a seeded math/rand/v2 Rand passed in", c.dir)
			}
		default:
			allowed, closed := externalAllowed[c.dir]
			if closed && !hasPrefix(path, allowed) {
				c.report(spec.Pos(), "%s imports %q, which is outside its allowed dependencies", c.dir, path)
			}
		}
	}
}

func (c *checker) internalImport(spec *ast.ImportSpec, target string) {
	if target == "cmd" || strings.HasPrefix(target, "cmd/") {
		c.report(spec.Pos(), "nothing may import cmd (imported from %s)", c.dir)
		return
	}
	allowed, closed := internalAllowed[c.dir]
	if !closed {
		return // cmd may import anything but itself
	}
	for _, a := range allowed {
		if target == a || strings.HasPrefix(target, a+"/") {
			return
		}
	}
	if target == c.dir || strings.HasPrefix(target, c.dir+"/") {
		return
	}
	c.report(spec.Pos(), "%s may not import %s", c.dir, target)
}

func (c *checker) determinism(f *ast.File) {
	names := importNames(f)
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			c.report(n.Pos(), "go statement in %s: the simulated world runs on one goroutine", c.dir)
		case *ast.SelectStmt:
			c.report(n.Pos(), "select in %s: no channels in deterministic code", c.dir)
		case *ast.ChanType:
			c.report(n.Pos(), "channel type in %s: no channels in deterministic code", c.dir)
		case *ast.SendStmt:
			c.report(n.Pos(), "channel send in %s", c.dir)
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				c.report(n.Pos(), "channel receive in %s", c.dir)
			}
		case *ast.SelectorExpr:
			c.selector(n, names)
		}
		return true
	})
}

func (c *checker) selector(n *ast.SelectorExpr, names map[string]string) {
	id, ok := n.X.(*ast.Ident)
	if !ok {
		return
	}
	pkg, ok := names[id.Name]
	if !ok {
		return
	}
	if why, ok := bannedCalls[pkg][n.Sel.Name]; ok {
		c.report(n.Pos(), "%s.%s in %s (%s): time and environment enter only as inputs", pkg, n.Sel.Name, c.dir, why)
	}
	if (pkg == "math/rand" || pkg == "math/rand/v2") && ast.IsExported(n.Sel.Name) &&
		!randConstructors[n.Sel.Name] && !isRandType(n.Sel.Name) {
		c.report(n.Pos(), "%s.%s uses the global random source in %s", pkg, n.Sel.Name, c.dir)
	}
}

// isRandType reports whether name is a type of math/rand, which may be named freely.
func isRandType(name string) bool {
	switch name {
	case "Rand", "Source", "Source64", "PCG", "ChaCha8", "Zipf":
		return true
	}
	return false
}

// importNames maps the local name of each import to its path.
func importNames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if path == "math/rand/v2" {
			name = "rand"
		}
		if spec.Name != nil {
			name = spec.Name.Name
		}
		m[name] = path
	}
	return m
}

func isStd(path string) bool {
	first := strings.Split(path, "/")[0]
	return !strings.Contains(first, ".")
}

func hasPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
