package dns

import (
	"fmt"
	"time"

	"github.com/metaflow-go/metaflow/l7"
)

// Name is the l7_protocol value of DNS records.
const Name = "DNS"

// SessionTimeout is how long a query waits for its response.
const SessionTimeout = 15 * time.Second

// Errors in the Err of a *l7.ParseError that Parse returns. Each matches
// l7.ErrMalformed with errors.Is.
var (
	// ErrTruncated: the message ends inside a section (snaplen, a lost
	// fragment, a count larger than the records present).
	ErrTruncated = fmt.Errorf("dns: truncated message: %w", l7.ErrMalformed)
	// ErrBadName: a name with a forward or looping compression pointer, a
	// reserved label type, or more than 255 octets.
	ErrBadName = fmt.Errorf("dns: bad name: %w", l7.ErrMalformed)
	// ErrBadRecord: a record whose rdata does not match its type.
	ErrBadRecord = fmt.Errorf("dns: bad record data: %w", l7.ErrMalformed)
	// ErrBadLength: a TCP length prefix shorter than a DNS header.
	ErrBadLength = fmt.Errorf("dns: bad TCP length prefix: %w", l7.ErrMalformed)
)

// The decoder's shape.
var (
	_ l7.Decoder          = (*Decoder)(nil)
	_ l7.SessionTimeouter = (*Decoder)(nil)
	_ l7.Parser           = (*Parser)(nil)
	_ l7.Trailer          = (*Parser)(nil)
)

// Config tunes the decoder. It has no fields yet; the zero value (or a nil
// *Config) means defaults.
type Config struct{}

// Decoder is the DNS decoder. It is stateless and safe for concurrent use;
// get one from New.
type Decoder struct {
	cfg Config
}

// New returns the DNS decoder configured by c; nil means defaults.
func New(c *Config) *Decoder {
	d := &Decoder{}
	if c != nil {
		d.cfg = *c
	}
	return d
}

// Name returns "DNS".
func (*Decoder) Name() string { return Name }

// MaxPending returns the requests one flow may hold waiting for their
// responses (l7.PendingLimiter): 1024, as one UDP flow (a resolver's socket) carries many queries at once.
func (*Decoder) MaxPending() int { return 1024 }

// SessionTimeout returns 15 s (l7.SessionTimeouter): a query with no
// response after that is a Timeout.
func (*Decoder) SessionTimeout() time.Duration { return SessionTimeout }

// NewParser returns per-flow state for transport t, a *Parser.
func (*Decoder) NewParser(t l7.Transport) l7.Parser { return newParser(t) }

// Check says whether payload starts a DNS message: over TCP after its
// 2-byte length, a header whose counts, opcode and reserved bit are sane
// and whose first question is a well-formed name with a known class. Random
// bytes pass with a probability well below one in a million. dir is not
// used: the QR bit tells requests from responses.
func (*Decoder) Check(payload []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	msg := payload
	if t == l7.TCP {
		if len(payload) < 2 {
			return l7.No
		}
		size := int(payload[0])<<8 | int(payload[1])
		msg = payload[2:]
		if size < len(msg) {
			msg = msg[:size]
		}
		if size < headerLen {
			return l7.No
		}
	}
	v, _ := checkMsg(msg)
	return v
}

// checkMsg judges a message (or its first bytes) as Check does. more
// reports a No only because msg ended before the question did.
func checkMsg(msg []byte) (v l7.Verdict, more bool) {
	if len(msg) < headerLen+5 {
		return l7.No, true
	}
	flags := be16(msg[2:])
	qd, an, ns, ar := be16(msg[4:]), be16(msg[6:]), be16(msg[8:]), be16(msg[10:])
	if qd < 1 || qd > 4 || flags&flagZ != 0 {
		return l7.No, false
	}
	switch opcode := flags >> 11 & 0xf; opcode {
	case opQuery, opIQuery, opStatus, opNotify, opUpdate:
	default:
		return l7.No, false
	}
	response := flags&flagQR != 0
	if !response {
		// Queries carry no rcode, and a plain query has no answer or
		// authority records (NOTIFY and UPDATE may).
		if flags&0xf != 0 || flags&flagAA != 0 || ar > 4 {
			return l7.No, false
		}
		if flags>>11&0xf == opQuery && (an != 0 || ns != 0) {
			return l7.No, false
		}
	}
	// Each record needs at least 11 bytes; a message is at most 64 KiB.
	if (int(an)+int(ns)+int(ar))*11+int(qd)*5 > 65535-headerLen {
		return l7.No, false
	}
	off := headerLen
	labels := 0
	for {
		if off >= len(msg) {
			return l7.No, true
		}
		l := int(msg[off])
		if l == 0 {
			off++
			break
		}
		if l > 63 || labels >= 127 {
			return l7.No, false // no pointer can precede the first name
		}
		labels++
		off += 1 + l
		if off-headerLen > maxNameWire {
			return l7.No, false
		}
	}
	if off+4 > len(msg) {
		return l7.No, true
	}
	qtype := be16(msg[off:])
	switch be16(msg[off+2:]) &^ 0x8000 { // mDNS "unicast response" bit
	case classIN, classCH, classHS, classNone, classAny:
	default:
		return l7.No, false
	}
	if qtype == 0 {
		return l7.No, false
	}
	if response {
		return l7.Response, false
	}
	return l7.Request, false
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

const (
	headerLen   = 12
	maxNameWire = 255

	flagQR = 0x8000
	flagAA = 0x0400
	flagTC = 0x0200
	flagZ  = 0x0040

	opQuery  = 0
	opIQuery = 1
	opStatus = 2
	opNotify = 4
	opUpdate = 5

	classIN   = 1
	classCH   = 3
	classHS   = 4
	classNone = 254
	classAny  = 255
)

// Record types with a mnemonic.
const (
	TypeA     = 1
	TypeNS    = 2
	TypeCNAME = 5
	TypeSOA   = 6
	TypePTR   = 12
	TypeHINFO = 13
	TypeMX    = 15
	TypeTXT   = 16
	TypeAAAA  = 28
	TypeSRV   = 33
	TypeDNAME = 39
	TypeOPT   = 41
	TypeSVCB  = 64
	TypeHTTPS = 65
	TypeCAA   = 257
)

// TypeName returns the mnemonic of a record type, or "" when it has none
// (print it as TYPEnnn).
func TypeName(t uint16) string {
	switch t {
	case 1:
		return "A"
	case 2:
		return "NS"
	case 5:
		return "CNAME"
	case 6:
		return "SOA"
	case 12:
		return "PTR"
	case 13:
		return "HINFO"
	case 15:
		return "MX"
	case 16:
		return "TXT"
	case 17:
		return "RP"
	case 18:
		return "AFSDB"
	case 24:
		return "SIG"
	case 25:
		return "KEY"
	case 28:
		return "AAAA"
	case 29:
		return "LOC"
	case 33:
		return "SRV"
	case 35:
		return "NAPTR"
	case 36:
		return "KX"
	case 37:
		return "CERT"
	case 39:
		return "DNAME"
	case 41:
		return "OPT"
	case 42:
		return "APL"
	case 43:
		return "DS"
	case 44:
		return "SSHFP"
	case 45:
		return "IPSECKEY"
	case 46:
		return "RRSIG"
	case 47:
		return "NSEC"
	case 48:
		return "DNSKEY"
	case 49:
		return "DHCID"
	case 50:
		return "NSEC3"
	case 51:
		return "NSEC3PARAM"
	case 52:
		return "TLSA"
	case 53:
		return "SMIMEA"
	case 55:
		return "HIP"
	case 59:
		return "CDS"
	case 60:
		return "CDNSKEY"
	case 61:
		return "OPENPGPKEY"
	case 62:
		return "CSYNC"
	case 63:
		return "ZONEMD"
	case 64:
		return "SVCB"
	case 65:
		return "HTTPS"
	case 99:
		return "SPF"
	case 108:
		return "EUI48"
	case 109:
		return "EUI64"
	case 249:
		return "TKEY"
	case 250:
		return "TSIG"
	case 251:
		return "IXFR"
	case 252:
		return "AXFR"
	case 253:
		return "MAILB"
	case 254:
		return "MAILA"
	case 255:
		return "ANY"
	case 256:
		return "URI"
	case 257:
		return "CAA"
	}
	return ""
}

// RcodeName returns the mnemonic of a (possibly extended) rcode, or "" when
// it has none.
func RcodeName(rcode uint16) string {
	switch rcode {
	case 0:
		return "NOERROR"
	case 1:
		return "FORMERR"
	case 2:
		return "SERVFAIL"
	case 3:
		return "NXDOMAIN"
	case 4:
		return "NOTIMP"
	case 5:
		return "REFUSED"
	case 6:
		return "YXDOMAIN"
	case 7:
		return "YXRRSET"
	case 8:
		return "NXRRSET"
	case 9:
		return "NOTAUTH"
	case 10:
		return "NOTZONE"
	case 11:
		return "DSOTYPENI"
	case 16:
		return "BADVERS"
	case 17:
		return "BADKEY"
	case 18:
		return "BADTIME"
	case 19:
		return "BADMODE"
	case 20:
		return "BADNAME"
	case 21:
		return "BADALG"
	case 22:
		return "BADTRUNC"
	case 23:
		return "BADCOOKIE"
	}
	return ""
}
