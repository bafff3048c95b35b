package filter

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
)

// Classic BPF opcode fields (linux/filter.h, pcap/bpf.h).
const (
	opLD   = 0x00
	opLDX  = 0x01
	opST   = 0x02
	opSTX  = 0x03
	opALU  = 0x04
	opJMP  = 0x05
	opRET  = 0x06
	opMISC = 0x07

	sizeW = 0x00
	sizeH = 0x08
	sizeB = 0x10

	modeIMM = 0x00
	modeABS = 0x20
	modeIND = 0x40
	modeMEM = 0x60
	modeLEN = 0x80
	modeMSH = 0xa0

	aluADD = 0x00
	aluSUB = 0x10
	aluMUL = 0x20
	aluDIV = 0x30
	aluOR  = 0x40
	aluAND = 0x50
	aluLSH = 0x60
	aluRSH = 0x70
	aluNEG = 0x80
	aluMOD = 0x90
	aluXOR = 0xa0

	jA   = 0x00
	jEq  = 0x10
	jGt  = 0x20
	jGe  = 0x30
	jSet = 0x40

	srcK = 0x00
	srcX = 0x08

	retK = 0x00
	retA = 0x10

	miscTAX = 0x00
	miscTXA = 0x80
)

// ins is one straight-line instruction of a leaf test.
type ins struct {
	op uint16
	k  uint32
}

// run executes a classic BPF program on a packet with the semantics of
// libpcap's bpf_filter and the Linux kernel: a load beyond the captured
// data or a division by zero rejects the packet; "len" is the original
// length. It returns the program's return value (0 rejects). Programs
// this package generates are valid; run still bounds-checks every jump
// and memory index so that any program is safe to run.
func run(prog []bpf.RawInstruction, pkt []byte, wireLen int) uint32 {
	var a, x uint32
	var mem [16]uint32
	n := uint32(len(pkt))
	for pc := 0; pc < len(prog); pc++ {
		in := &prog[pc]
		k := in.K
		switch in.Op {
		case opLD | sizeW | modeABS:
			if k > n || n-k < 4 {
				return 0
			}
			a = binary.BigEndian.Uint32(pkt[k:])
		case opLD | sizeH | modeABS:
			if k > n || n-k < 2 {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(pkt[k:]))
		case opLD | sizeB | modeABS:
			if k >= n {
				return 0
			}
			a = uint32(pkt[k])
		case opLD | sizeW | modeIND:
			o := x + k
			if o < x || o > n || n-o < 4 {
				return 0
			}
			a = binary.BigEndian.Uint32(pkt[o:])
		case opLD | sizeH | modeIND:
			o := x + k
			if o < x || o > n || n-o < 2 {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(pkt[o:]))
		case opLD | sizeB | modeIND:
			o := x + k
			if o < x || o >= n {
				return 0
			}
			a = uint32(pkt[o])
		case opLD | sizeW | modeLEN:
			a = uint32(wireLen)
		case opLDX | sizeW | modeLEN:
			x = uint32(wireLen)
		case opLD | modeIMM:
			a = k
		case opLDX | modeIMM:
			x = k
		case opLD | modeMEM:
			if k >= 16 {
				return 0
			}
			a = mem[k]
		case opLDX | modeMEM:
			if k >= 16 {
				return 0
			}
			x = mem[k]
		case opLDX | sizeB | modeMSH:
			if k >= n {
				return 0
			}
			x = uint32(pkt[k]&0xf) << 2
		case opST:
			if k >= 16 {
				return 0
			}
			mem[k] = a
		case opSTX:
			if k >= 16 {
				return 0
			}
			mem[k] = x
		case opALU | aluADD | srcK:
			a += k
		case opALU | aluSUB | srcK:
			a -= k
		case opALU | aluMUL | srcK:
			a *= k
		case opALU | aluDIV | srcK:
			if k == 0 {
				return 0
			}
			a /= k
		case opALU | aluMOD | srcK:
			if k == 0 {
				return 0
			}
			a %= k
		case opALU | aluAND | srcK:
			a &= k
		case opALU | aluOR | srcK:
			a |= k
		case opALU | aluXOR | srcK:
			a ^= k
		case opALU | aluLSH | srcK:
			a = shl(a, k)
		case opALU | aluRSH | srcK:
			a = shr(a, k)
		case opALU | aluADD | srcX:
			a += x
		case opALU | aluSUB | srcX:
			a -= x
		case opALU | aluMUL | srcX:
			a *= x
		case opALU | aluDIV | srcX:
			if x == 0 {
				return 0
			}
			a /= x
		case opALU | aluMOD | srcX:
			if x == 0 {
				return 0
			}
			a %= x
		case opALU | aluAND | srcX:
			a &= x
		case opALU | aluOR | srcX:
			a |= x
		case opALU | aluXOR | srcX:
			a ^= x
		case opALU | aluLSH | srcX:
			a = shl(a, x)
		case opALU | aluRSH | srcX:
			a = shr(a, x)
		case opALU | aluNEG:
			a = -a
		case opJMP | jA:
			pc += int(k)
		case opJMP | jEq | srcK:
			pc += branch(a == k, in)
		case opJMP | jGt | srcK:
			pc += branch(a > k, in)
		case opJMP | jGe | srcK:
			pc += branch(a >= k, in)
		case opJMP | jSet | srcK:
			pc += branch(a&k != 0, in)
		case opJMP | jEq | srcX:
			pc += branch(a == x, in)
		case opJMP | jGt | srcX:
			pc += branch(a > x, in)
		case opJMP | jGe | srcX:
			pc += branch(a >= x, in)
		case opJMP | jSet | srcX:
			pc += branch(a&x != 0, in)
		case opRET | retK:
			return k
		case opRET | retA:
			return a
		case opMISC | miscTAX:
			x = a
		case opMISC | miscTXA:
			a = x
		default:
			return 0 // unknown instruction or ancillary load: reject
		}
	}
	return 0 // fell off the end
}

func branch(cond bool, in *bpf.RawInstruction) int {
	if cond {
		return int(in.Jt)
	}
	return int(in.Jf)
}

// Shifts of 32 or more give 0, as in the Linux interpreter of classic BPF
// programs (which masks nothing; x86 would): the filters generated here
// shift only by constants below 32.
func shl(a, s uint32) uint32 {
	if s >= 32 {
		return 0
	}
	return a << s
}

func shr(a, s uint32) uint32 {
	if s >= 32 {
		return 0
	}
	return a >> s
}
