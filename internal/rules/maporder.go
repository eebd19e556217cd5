package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Map iteration order (DESIGN.md section 5: never let map iteration order reach an
// output). Go randomizes the order of a range over a map, so in the directories of
// mapOrderDirs every range over a map-typed expression is a violation unless it is one
// of the shapes whose result cannot depend on the order:
//
//   - collecting to sort: the body only appends to one slice (the keys, or values), and
//     a later statement of the same block sorts that slice (slices.Sort, SortFunc,
//     SortStableFunc, sort.Slice, SliceStable, Sort, Stable, Strings, Ints);
//   - commutative bodies: every statement (also inside if and else, with continue
//     allowed) deletes from a map, counts (x++, x--, or +=, -=, |=, &=, ^= on integers),
//     or assigns into a map (m2[k] = v);
//   - the same for maps.Keys, maps.Values and maps.All: a range over one of those
//     calls is judged as a range over the map (slices.Sorted(maps.Keys(m)) is not a
//     range over a map and passes);
//
// or it carries the escape hatch, a comment "// order-independent: <why>" on the line of
// the for statement or the line above it, for a loop whose result is the same in every
// order for a reason the shapes do not see (a search for any match, a minimum).
//
// Which expressions are maps comes from go/types: CheckTree type-checks each package of
// those directories from source, importing its dependencies from the export data `go
// list -export` gives (the build cache), in the default build and then with the simbugs
// tag for the files only that build has (core/plant/on.go). A range statement in a file
// neither build has is reported, so that nothing escapes unseen.

// mapOrderDirs are the directories whose map ranges the rule judges.
var mapOrderDirs = set("core", "sim", "diskexec")

// orderIndependent is the escape hatch's marker.
const orderIndependent = "order-independent:"

// exportData finds the export data of packages with the go command, once per path.
type exportData struct {
	dir   string   // where the go command runs (the module root)
	tags  []string // the build tags
	files map[string]string
}

func newExportData(dir string, tags []string) *exportData {
	return &exportData{dir: dir, tags: tags, files: map[string]string{}}
}

// load asks the go command for the export data of patterns and their dependencies.
func (e *exportData) load(patterns ...string) error {
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}
	if len(e.tags) > 0 {
		args = append(args, "-tags", strings.Join(e.tags, ","))
	}
	args = append(args, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = e.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list -export %v: %v: %s", patterns, err, strings.TrimSpace(stderr.String()))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if path, file, ok := strings.Cut(sc.Text(), "\t"); ok && file != "" {
			e.files[path] = file
		}
	}
	return sc.Err()
}

func (e *exportData) lookup(path string) (io.ReadCloser, error) {
	if _, ok := e.files[path]; !ok {
		if err := e.load(path); err != nil {
			return nil, err
		}
	}
	file, ok := e.files[path]
	if !ok {
		return nil, fmt.Errorf("no export data for %s", path)
	}
	return os.Open(file)
}

// typeCheck checks the files of one package and returns what the map rule needs. When
// strict, a type error is an error; otherwise the rule judges with the types that
// resolved (CheckFile's snippets name things that need not exist).
func typeCheck(fset *token.FileSet, files []*ast.File, exports *exportData, strict bool) (*types.Info, error) {
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
	var first error
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "gc", exports.lookup),
		Error: func(err error) {
			// Soft errors (an unused import or variable) leave the types complete.
			if te, ok := err.(types.Error); ok && te.Soft {
				return
			}
			if first == nil {
				first = err
			}
		},
	}
	if len(files) == 0 {
		return info, nil
	}
	conf.Check(files[0].Name.Name, fset, files, info)
	if first != nil && strict {
		return nil, fmt.Errorf("type-checking for the map iteration rule: %w", first)
	}
	return info, nil
}

// mapOrder reports every range over a map in f that is not order-independent.
func (c *checker) mapOrder(f *ast.File, info *types.Info) {
	hatches := map[int]bool{}
	for _, g := range f.Comments {
		for _, cm := range g.List {
			text := strings.TrimSpace(strings.TrimPrefix(cm.Text, "//"))
			if strings.HasPrefix(text, orderIndependent) && strings.TrimSpace(strings.TrimPrefix(text, orderIndependent)) != "" {
				hatches[c.fset.Position(cm.Pos()).Line] = true
			}
		}
	}
	check := func(rs *ast.RangeStmt, rest []ast.Stmt, fn *ast.FuncType) {
		if !c.rangesOverMap(rs.X, info) {
			return
		}
		line := c.fset.Position(rs.Pos()).Line
		if hatches[line] || hatches[line-1] || commutative(rs, info, fn) || collectsToSort(rs, rest) {
			return
		}
		c.report(rs.Pos(), "range over a map in %s: its order is random; sort the keys, keep an ordered slice, or say why the order cannot matter (// %s <why>)", c.dir, orderIndependent)
	}
	var walk func(n ast.Node, fn *ast.FuncType)
	walk = func(n ast.Node, fn *ast.FuncType) {
		ast.Inspect(n, func(m ast.Node) bool {
			var list []ast.Stmt
			switch m := m.(type) {
			case *ast.FuncDecl:
				if m != n && m.Body != nil {
					walk(m.Body, m.Type)
					return false
				}
			case *ast.FuncLit:
				if m != n {
					walk(m.Body, m.Type)
					return false
				}
			case *ast.BlockStmt:
				list = m.List
			case *ast.CaseClause:
				list = m.Body
			case *ast.CommClause:
				list = m.Body
			}
			for i, s := range list {
				if rs, ok := s.(*ast.RangeStmt); ok {
					check(rs, list[i+1:], fn)
				}
			}
			return true
		})
	}
	walk(f, nil)
}

// rangesOverMap reports whether x is a map, or a maps.Keys, maps.Values or maps.All
// call.
func (c *checker) rangesOverMap(x ast.Expr, info *types.Info) bool {
	if call, ok := x.(*ast.CallExpr); ok {
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				if pn, ok := info.Uses[id].(*types.PkgName); ok && pn.Imported().Path() == "maps" {
					switch sel.Sel.Name {
					case "Keys", "Values", "All":
						return true
					}
				}
			}
		}
	}
	return isMap(info.TypeOf(x))
}

// isMap reports whether t is a map, or a type parameter whose every term is one.
func isMap(t types.Type) bool {
	if t == nil {
		return false
	}
	if tp, ok := t.(*types.TypeParam); ok {
		iface, ok := tp.Constraint().Underlying().(*types.Interface)
		if !ok || iface.NumEmbeddeds() == 0 {
			return false
		}
		for i := range iface.NumEmbeddeds() {
			u, ok := iface.EmbeddedType(i).(*types.Union)
			if !ok {
				if !isMap(iface.EmbeddedType(i)) {
					return false
				}
				continue
			}
			for j := range u.Len() {
				if !isMap(u.Term(j).Type()) {
					return false
				}
			}
		}
		return true
	}
	_, ok := t.Underlying().(*types.Map)
	return ok
}

// loopScope is what a loop body's statements may touch without making the result
// depend on the order: the per-iteration variables (the judged range's key and value,
// the variables the body defines, and the key and value of inner ranges over something
// of the element's own), the judged range's key (unique per iteration), and the
// enclosing function's type (for bare returns).
type loopScope struct {
	info *types.Info
	vars map[string]bool
	key  string
	fn   *ast.FuncType
}

// commutative reports whether a loop body has the same effect in any order. Every
// statement (also inside if and else and inner ranges) is one of: delete from a map;
// x++ or x--; an integer +=, -=, |=, &=, ^=; x = min(x, ...) or max; an assignment into
// a field or element of the iteration's own element, or into a map at the iteration's
// key, or of a constant into a map; a new per-iteration variable; a return of constants
// (a search: "is there one"), or a bare return from a function without results;
// continue. Every expression it evaluates calls nothing but builtins, conversions and
// methods of the iteration's own variables.
func commutative(rs *ast.RangeStmt, info *types.Info, fn *ast.FuncType) bool {
	sc := &loopScope{info: info, vars: map[string]bool{}, fn: fn}
	if id, ok := rs.Key.(*ast.Ident); ok && id.Name != "_" {
		sc.key = id.Name
	}
	sc.addRangeVars(rs)
	return sc.stmts(rs.Body.List)
}

func (sc *loopScope) addRangeVars(rs *ast.RangeStmt) {
	for _, e := range []ast.Expr{rs.Key, rs.Value} {
		if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
			sc.vars[id.Name] = true
		}
	}
}

func (sc *loopScope) stmts(list []ast.Stmt) bool {
	for _, s := range list {
		if !sc.stmt(s) {
			return false
		}
	}
	return true
}

func (sc *loopScope) stmt(s ast.Stmt) bool {
	switch s := s.(type) {
	case *ast.ExprStmt:
		call, ok := s.X.(*ast.CallExpr)
		return ok && sc.builtin(call) == "delete" && sc.pure(call)
	case *ast.IncDecStmt:
		return sc.pure(s.X)
	case *ast.AssignStmt:
		return sc.assign(s)
	case *ast.BranchStmt:
		return s.Tok == token.CONTINUE && s.Label == nil
	case *ast.ReturnStmt:
		if len(s.Results) == 0 {
			return sc.fn != nil && (sc.fn.Results == nil || len(sc.fn.Results.List) == 0)
		}
		for _, r := range s.Results {
			if !sc.constant(r) {
				return false
			}
		}
		return true
	case *ast.BlockStmt:
		return sc.stmts(s.List)
	case *ast.IfStmt:
		if s.Init != nil && !sc.stmt(s.Init) {
			return false
		}
		if !sc.pure(s.Cond) || !sc.stmts(s.Body.List) {
			return false
		}
		return s.Else == nil || sc.stmt(s.Else)
	case *ast.RangeStmt:
		// An inner range (over a map it is judged on its own as well). Its variables
		// are the iteration's own when it ranges over something of the iteration's own.
		if !sc.pure(s.X) {
			return false
		}
		if root := rootIdent(s.X); root != nil && sc.vars[root.Name] {
			sc.addRangeVars(s)
		}
		return sc.stmts(s.Body.List)
	}
	return false
}

func (sc *loopScope) assign(s *ast.AssignStmt) bool {
	info := sc.info
	for _, r := range s.Rhs {
		if !sc.pure(r) {
			return false
		}
	}
	switch s.Tok {
	case token.ADD_ASSIGN, token.SUB_ASSIGN, token.OR_ASSIGN, token.AND_ASSIGN, token.XOR_ASSIGN:
		b, ok := info.TypeOf(s.Lhs[0]).Underlying().(*types.Basic)
		return ok && b.Info()&types.IsInteger != 0 && sc.pure(s.Lhs[0])
	case token.DEFINE:
		for _, l := range s.Lhs {
			if id, ok := l.(*ast.Ident); ok {
				sc.vars[id.Name] = true
			}
		}
		return true
	case token.ASSIGN:
		if len(s.Lhs) == 1 && len(s.Rhs) == 1 {
			if call, ok := s.Rhs[0].(*ast.CallExpr); ok {
				if b := sc.builtin(call); (b == "min" || b == "max") && slices.ContainsFunc(call.Args, func(a ast.Expr) bool {
					return types.ExprString(a) == types.ExprString(s.Lhs[0])
				}) {
					return true
				}
			}
		}
		for i, l := range s.Lhs {
			if !sc.pure(l) {
				return false
			}
			if root := rootIdent(l); root != nil && root != l && sc.vars[root.Name] {
				continue // the iteration's own element
			}
			ix, ok := l.(*ast.IndexExpr)
			if !ok || !isMap(info.TypeOf(ix.X)) {
				return false
			}
			atKey := sc.key != "" && types.ExprString(ix.Index) == sc.key
			if !atKey && !(len(s.Rhs) == len(s.Lhs) && sc.constant(s.Rhs[i])) {
				return false // two iterations could write one key with different values
			}
		}
		return true
	}
	return false
}

// constant reports whether e is a constant or nil.
func (sc *loopScope) constant(e ast.Expr) bool {
	tv, ok := sc.info.Types[e]
	return ok && (tv.Value != nil || tv.IsNil())
}

// pure reports whether evaluating e calls nothing but builtins, conversions, and
// methods of the iteration's own variables (of which the result cannot depend on the
// order).
func (sc *loopScope) pure(e ast.Expr) bool {
	ok := true
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			ok = false
		case *ast.CallExpr:
			if tv, found := sc.info.Types[n.Fun]; found && tv.IsType() {
				return true
			}
			if sc.builtin(n) != "" {
				return true
			}
			if sel, isSel := n.Fun.(*ast.SelectorExpr); isSel {
				if root := rootIdent(sel.X); root != nil && sc.vars[root.Name] {
					return true
				}
			}
			ok = false
		}
		return ok
	})
	return ok
}

// builtin returns the name of the builtin a call calls, or "".
func (sc *loopScope) builtin(call *ast.CallExpr) string {
	id, ok := call.Fun.(*ast.Ident)
	if !ok {
		return ""
	}
	if _, ok := sc.info.Uses[id].(*types.Builtin); ok {
		return id.Name
	}
	return ""
}

// rootIdent is the variable an lvalue is part of: v for v.f.g, v[i], *v; nil for
// anything else.
func rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			return x
		case *ast.SelectorExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// collectsToSort reports whether the loop only appends to one slice and a later
// statement of its block sorts that slice.
func collectsToSort(rs *ast.RangeStmt, rest []ast.Stmt) bool {
	if len(rs.Body.List) != 1 {
		return false
	}
	only := rs.Body.List[0]
	if is, ok := only.(*ast.IfStmt); ok && is.Init == nil && is.Else == nil && len(is.Body.List) == 1 {
		only = is.Body.List[0] // a filter: if cond { keys = append(keys, k) }
	}
	as, ok := only.(*ast.AssignStmt)
	if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 || (as.Tok != token.ASSIGN && as.Tok != token.DEFINE) {
		return false
	}
	call, ok := as.Rhs[0].(*ast.CallExpr)
	if fn, isIdent := callName(call); !ok || !isIdent || fn != "append" || len(call.Args) < 2 {
		return false
	}
	target := types.ExprString(as.Lhs[0])
	if types.ExprString(call.Args[0]) != target {
		return false
	}
	for _, s := range rest {
		es, ok := s.(*ast.ExprStmt)
		if !ok {
			continue
		}
		sc, ok := es.X.(*ast.CallExpr)
		if !ok || len(sc.Args) == 0 || types.ExprString(sc.Args[0]) != target {
			continue
		}
		if sel, ok := sc.Fun.(*ast.SelectorExpr); ok {
			if pkg, ok := sel.X.(*ast.Ident); ok && sortFuncs[pkg.Name+"."+sel.Sel.Name] {
				return true
			}
		}
	}
	return false
}

// sortFuncs sort a slice in place into an order of their own.
var sortFuncs = set("slices.Sort", "slices.SortFunc", "slices.SortStableFunc", "sort.Slice",
	"sort.SliceStable", "sort.Sort", "sort.Stable", "sort.Strings", "sort.Ints")

// callName returns the name of a call's function when it is a plain identifier.
func callName(call *ast.CallExpr) (string, bool) {
	if call == nil {
		return "", false
	}
	id, ok := call.Fun.(*ast.Ident)
	if !ok {
		return "", false
	}
	return id.Name, true
}
