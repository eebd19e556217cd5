package partition

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// readOnlyMethods are the exported methods of Replica that change nothing Brief reads,
// and so leave Changes as it is.
var readOnlyMethods = map[string]bool{
	"HasReady": true, "Deadline": true, "NeedsEveryTick": true, "Status": true, "Brief": true,
	"Changes": true, "HighWatermark": true, "Leading": true, "VerifyingCount": true,
}

// countsChanges names what a method body calls to count itself in Changes: input and
// changes++ directly, or a helper that starts with input.
var countsChanges = []string{"r.input()", "r.changes++", "r.admitProduce(", "r.produce(", "r.produceInternal("}

// The checkers read again only the replicas whose Changes moved: every exported method
// that may change a replica must count itself, or a change goes unchecked. A new method
// fails here until it counts itself or is listed as read-only.
func TestEveryInputCountsInChanges(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	bodies := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Body == nil || len(fn.Recv.List) != 1 {
				continue
			}
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			if id, ok := star.X.(*ast.Ident); !ok || id.Name != "Replica" {
				continue
			}
			var b strings.Builder
			if err := printer.Fprint(&b, fset, fn.Body); err != nil {
				t.Fatal(err)
			}
			bodies[fn.Name.Name] = b.String()
		}
	}
	for _, helper := range []string{"admitProduce", "input"} {
		if !strings.Contains(bodies[helper], "r.changes++") && !strings.Contains(bodies[helper], "r.input()") {
			t.Errorf("%s does not count the call in Changes", helper)
		}
	}
	exported := 0
	for name, body := range bodies {
		if !ast.IsExported(name) {
			continue
		}
		exported++
		if readOnlyMethods[name] {
			continue
		}
		counted := false
		for _, s := range countsChanges {
			counted = counted || strings.Contains(body, s)
		}
		if !counted {
			t.Errorf("Replica.%s neither counts itself in Changes nor is listed as read-only", name)
		}
	}
	if exported < 20 {
		t.Fatalf("found only %d exported methods of Replica: the parse missed some", exported)
	}
}

// Changes moves with every input and stays without one.
func TestChangesCountsInputs(t *testing.T) {
	c := newCluster(t, 3, 2, nil)
	c.elect(1)
	c.settle()
	r := c.r(1)
	before := r.Changes()
	_, _ = r.Brief(), r.Status()
	_, _ = r.Deadline(), r.HighWatermark()
	if r.Changes() != before {
		t.Fatalf("reading the replica moved Changes from %d to %d", before, r.Changes())
	}
	p := c.produce(1, batchOf("a"), -1)
	if r.Changes() == before {
		t.Fatal("a produce left Changes as it was")
	}
	c.settle()
	p.one(t)
}
