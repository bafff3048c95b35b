package filter

import (
	"golang.org/x/net/bpf"

	"github.com/metaflow-go/metaflow/capture"
)

// DefaultSnaplen is the value accepted packets return when Compile is given
// a snaplen of 0 or less (tcpdump's default).
const DefaultSnaplen = 262144

// Compile compiles a tcpdump filter expression to a classic BPF program
// for frames of the given link type. Accepted packets return snaplen
// (DefaultSnaplen if snaplen <= 0), others 0. The program is what
// SO_ATTACH_FILTER takes; the empty expression accepts everything.
//
// Errors are *SyntaxError, also for primitives the link type cannot
// express (vlan on Linux cooked capture) and for link types this package
// does not know.
func Compile(expr string, link capture.LinkType, snaplen int) ([]bpf.RawInstruction, error) {
	n, err := parse(expr)
	if err != nil {
		return nil, err
	}
	return compileTree(n, link, snaplen)
}

func compileTree(n node, link capture.LinkType, snaplen int) ([]bpf.RawInstruction, error) {
	i := linkIndex(link)
	if i < 0 {
		return nil, &SyntaxError{Pos: -1, Msg: "link type " + link.String() + " is not supported"}
	}
	if snaplen <= 0 || snaplen > 1<<31-1 {
		snaplen = DefaultSnaplen
	}
	g := &gen{link: links[i]}
	c, err := g.node(n)
	if err != nil {
		return nil, err
	}
	return assemble(simplify(c, nil), uint32(snaplen))
}

// Filter matches replayed packets against an expression, with the program
// Compile generates for each packet's link type.
type Filter struct {
	expr  string
	progs [len(links)][]bpf.RawInstruction // nil where the link type cannot express the filter
	errs  [len(links)]error
}

// New parses expr and compiles it for every supported link type. It fails
// on syntax errors and when no link type can express the filter.
func New(expr string) (*Filter, error) {
	n, err := parse(expr)
	if err != nil {
		return nil, err
	}
	f := &Filter{expr: expr}
	var firstErr error
	ok := false
	for i, l := range links {
		f.progs[i], f.errs[i] = compileTree(n, l.lt, DefaultSnaplen)
		if f.errs[i] == nil {
			ok = true
		} else if firstErr == nil {
			firstErr = f.errs[i]
		}
	}
	if !ok {
		return nil, firstErr
	}
	return f, nil
}

// String returns the expression.
func (f *Filter) String() string { return f.expr }

// Program returns the program Match runs for packets of link type link,
// or the error Compile gives for it.
func (f *Filter) Program(link capture.LinkType) ([]bpf.RawInstruction, error) {
	i := linkIndex(link)
	if i < 0 {
		return nil, &SyntaxError{Pos: -1, Msg: "link type " + link.String() + " is not supported"}
	}
	return f.progs[i], f.errs[i]
}

// Match reports whether the filter accepts p. Packets of a link type the
// filter cannot be compiled for are rejected. Match does not allocate and
// is safe for concurrent use.
func (f *Filter) Match(p *capture.Packet) bool {
	i := linkIndex(p.LinkType)
	if i < 0 || f.progs[i] == nil {
		return false
	}
	return run(f.progs[i], p.Data, p.Length) != 0
}
