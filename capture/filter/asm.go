package filter

import (
	"golang.org/x/net/bpf"
)

// maxInstructions is the kernel's limit on a classic BPF program
// (BPF_MAXINSNS).
const maxInstructions = 4096

// asmIns is an instruction whose jump targets are labels.
type asmIns struct {
	op     uint16
	k      uint32
	jt, jf int // labels of a conditional jump; jt is the target of ja
}

func (a *asmIns) isCond() bool { return a.op&0x07 == opJMP && a.op&0xf0 != jA }
func (a *asmIns) isJA() bool   { return a.op == opJMP|jA }

// regs is what the assembler knows the registers hold: the load that
// last set A (op and k, and for a load relative to X the load that set X)
// and the load that last set X. A zero op means unknown.
type regs struct {
	aOp, xOp uint16
	aK, aX   uint32 // aX: k of the X load an indirect A load used
	xK       uint32
}

const unknown = 0xffff

// assembler lays out jumping code: every condition is generated with the
// labels it jumps to when true and when false. All jumps go forward, so
// every jump to a label is emitted before the label is placed; the
// registers known at a label are those all its jumps agree on, and a load
// of a value a register already holds is left out.
type assembler struct {
	code   []asmIns
	labels []int  // label -> index in code where it is placed
	in     []regs // label -> registers known on the jumps to it so far
	seen   []bool // label -> some jump to it was emitted
	r      regs   // registers known at the current point
}

func (as *assembler) newLabel() int {
	as.labels = append(as.labels, -1)
	as.in = append(as.in, regs{})
	as.seen = append(as.seen, false)
	return len(as.labels) - 1
}

func (as *assembler) place(l int) {
	as.labels[l] = len(as.code)
	as.r = as.in[l]
}

// jumpTo records that the current registers reach label l.
func (as *assembler) jumpTo(l int) {
	if !as.seen[l] {
		as.seen[l], as.in[l] = true, as.r
		return
	}
	k := &as.in[l]
	if k.aOp != as.r.aOp || k.aK != as.r.aK || k.aX != as.r.aX {
		k.aOp = unknown
	}
	if k.xOp != as.r.xOp || k.xK != as.r.xK {
		k.xOp = unknown
	}
}

// straight emits a straight-line instruction unless it reloads a value the
// register already holds.
func (as *assembler) straight(in ins) {
	class, mode := in.op&0x07, in.op&0xe0
	switch {
	case class == opLD && (mode == modeABS || mode == modeLEN):
		if as.r.aOp == in.op && as.r.aK == in.k {
			return
		}
		as.r.aOp, as.r.aK = in.op, in.k
	case class == opLD && mode == modeIND:
		if as.r.xOp == unknown {
			as.r.aOp = unknown
			break
		}
		if as.r.aOp == in.op && as.r.aK == in.k && as.r.aX == as.r.xK {
			return
		}
		as.r.aOp, as.r.aK, as.r.aX = in.op, in.k, as.r.xK
	case class == opLDX && mode == modeMSH:
		if as.r.xOp == in.op && as.r.xK == in.k {
			return
		}
		as.r.xOp, as.r.xK = in.op, in.k
		if as.r.aOp&0xe0 == modeIND {
			as.r.aOp = unknown // A was loaded relative to another X
		}
	case class == opST || class == opSTX:
	case class == opLDX || in.op == opMISC|miscTAX:
		as.r.xOp = unknown
		if as.r.aOp&0xe0 == modeIND {
			as.r.aOp = unknown
		}
	default:
		as.r.aOp = unknown
	}
	as.code = append(as.code, asmIns{op: in.op, k: in.k})
}

func (as *assembler) emit(c cond, t, f int) {
	switch c := c.(type) {
	case cConst:
		target := f
		if c {
			target = t
		}
		as.jumpTo(target)
		as.code = append(as.code, asmIns{op: opJMP | jA, jt: target})
	case cTest:
		for _, in := range c.pre {
			as.straight(in)
		}
		as.jumpTo(t)
		as.jumpTo(f)
		as.code = append(as.code, asmIns{op: opJMP | c.jop, k: c.k, jt: t, jf: f})
	case cAnd:
		m := as.newLabel()
		as.emit(c.a, m, f)
		as.place(m)
		as.emit(c.b, t, f)
	case cOr:
		m := as.newLabel()
		as.emit(c.a, t, m)
		as.place(m)
		as.emit(c.b, t, f)
	case cNot:
		as.emit(c.a, f, t)
	}
}

// assemble generates the program of c that returns snaplen for accepted
// packets and 0 for the others.
func assemble(c cond, snaplen uint32) ([]bpf.RawInstruction, error) {
	if k, ok := c.(cConst); ok {
		v := uint32(0)
		if k {
			v = snaplen
		}
		return []bpf.RawInstruction{{Op: opRET | retK, K: v}}, nil
	}
	as := &assembler{r: regs{aOp: unknown, xOp: unknown}}
	acc, rej := as.newLabel(), as.newLabel()
	as.emit(c, acc, rej)
	as.place(acc)
	as.code = append(as.code, asmIns{op: opRET | retK, k: snaplen})
	as.place(rej)
	as.code = append(as.code, asmIns{op: opRET | retK, k: 0})
	return as.layout()
}

// layout resolves labels to offsets. A conditional jump reaches at most
// 255 instructions ahead; a longer one becomes "jcond 0,1; ja T; ja F".
// Expanding a jump moves others, so this repeats until nothing changes.
func (as *assembler) layout() ([]bpf.RawInstruction, error) {
	long := make([]bool, len(as.code))
	pos := make([]int, len(as.code)+1)
	for {
		p := 0
		for i := range as.code {
			pos[i] = p
			p++
			if long[i] {
				p += 2
			}
		}
		pos[len(as.code)] = p
		if p > maxInstructions {
			return nil, &SyntaxError{Pos: -1, Msg: "expression too long for a BPF program"}
		}
		grew := false
		for i := range as.code {
			in := &as.code[i]
			if !in.isCond() || long[i] {
				continue
			}
			next := pos[i] + 1
			if pos[as.labels[in.jt]]-next > 255 || pos[as.labels[in.jf]]-next > 255 {
				long[i], grew = true, true
			}
		}
		if !grew {
			break
		}
	}
	out := make([]bpf.RawInstruction, 0, pos[len(as.code)])
	for i := range as.code {
		in := &as.code[i]
		next := pos[i] + 1
		switch {
		case in.isJA():
			out = append(out, bpf.RawInstruction{Op: in.op, K: uint32(pos[as.labels[in.jt]] - next)})
		case in.isCond() && long[i]:
			t, f := pos[as.labels[in.jt]], pos[as.labels[in.jf]]
			out = append(out,
				bpf.RawInstruction{Op: in.op, K: in.k, Jt: 0, Jf: 1},
				bpf.RawInstruction{Op: opJMP | jA, K: uint32(t - (next + 1))},
				bpf.RawInstruction{Op: opJMP | jA, K: uint32(f - (next + 2))})
		case in.isCond():
			out = append(out, bpf.RawInstruction{Op: in.op, K: in.k,
				Jt: uint8(pos[as.labels[in.jt]] - next), Jf: uint8(pos[as.labels[in.jf]] - next)})
		default:
			out = append(out, bpf.RawInstruction{Op: in.op, K: in.k})
		}
	}
	return out, nil
}
