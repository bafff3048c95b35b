package mysql

import (
	"fmt"

	"github.com/metaflow-go/metaflow/l7"
)

// Name is the l7_protocol value of MySQL records.
const Name = "MySQL"

// Errors in the Err of a *l7.ParseError that Parse returns. Each matches
// l7.ErrMalformed with errors.Is.
var (
	// ErrEmptyCommand: a command packet without a command byte.
	ErrEmptyCommand = fmt.Errorf("mysql: empty command packet: %w", l7.ErrMalformed)
	// ErrUnknownCommand: a command byte no server knows.
	ErrUnknownCommand = fmt.Errorf("mysql: unknown command: %w", l7.ErrMalformed)
)

// The decoder's shape.
var (
	_ l7.Decoder = (*Decoder)(nil)
	_ l7.Parser  = (*Parser)(nil)
	_ l7.Trailer = (*Parser)(nil)
	_ l7.Flusher = (*Parser)(nil)
)

// Command bytes.
const (
	ComSleep            = 0x00
	ComQuit             = 0x01
	ComInitDB           = 0x02
	ComQuery            = 0x03
	ComFieldList        = 0x04
	ComCreateDB         = 0x05
	ComDropDB           = 0x06
	ComRefresh          = 0x07
	ComShutdown         = 0x08
	ComStatistics       = 0x09
	ComProcessInfo      = 0x0a
	ComConnect          = 0x0b
	ComProcessKill      = 0x0c
	ComDebug            = 0x0d
	ComPing             = 0x0e
	ComTime             = 0x0f
	ComDelayedInsert    = 0x10
	ComChangeUser       = 0x11
	ComBinlogDump       = 0x12
	ComTableDump        = 0x13
	ComConnectOut       = 0x14
	ComRegisterSlave    = 0x15
	ComStmtPrepare      = 0x16
	ComStmtExecute      = 0x17
	ComStmtSendLongData = 0x18
	ComStmtClose        = 0x19
	ComStmtReset        = 0x1a
	ComSetOption        = 0x1b
	ComStmtFetch        = 0x1c
	ComDaemon           = 0x1d
	ComBinlogDumpGTID   = 0x1e
	ComResetConnection  = 0x1f
	ComStmtBulkExecute  = 0xfa // MariaDB
)

var commandNames = [...]string{
	"COM_SLEEP", "COM_QUIT", "COM_INIT_DB", "COM_QUERY", "COM_FIELD_LIST",
	"COM_CREATE_DB", "COM_DROP_DB", "COM_REFRESH", "COM_SHUTDOWN",
	"COM_STATISTICS", "COM_PROCESS_INFO", "COM_CONNECT", "COM_PROCESS_KILL",
	"COM_DEBUG", "COM_PING", "COM_TIME", "COM_DELAYED_INSERT",
	"COM_CHANGE_USER", "COM_BINLOG_DUMP", "COM_TABLE_DUMP",
	"COM_CONNECT_OUT", "COM_REGISTER_SLAVE", "COM_STMT_PREPARE",
	"COM_STMT_EXECUTE", "COM_STMT_SEND_LONG_DATA", "COM_STMT_CLOSE",
	"COM_STMT_RESET", "COM_SET_OPTION", "COM_STMT_FETCH", "COM_DAEMON",
	"COM_BINLOG_DUMP_GTID", "COM_RESET_CONNECTION",
}

// CommandName returns the name of a command byte ("COM_QUERY"), or "" for
// a byte that is no command.
func CommandName(c byte) string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	if c == ComStmtBulkExecute {
		return "COM_STMT_BULK_EXECUTE"
	}
	return ""
}

// Capability flags.
const (
	ClientConnectWithDB         = 1 << 3
	ClientCompress              = 1 << 5
	ClientProtocol41            = 1 << 9
	ClientSSL                   = 1 << 11
	ClientSecureConnection      = 1 << 15
	ClientPluginAuth            = 1 << 19
	ClientPluginAuthLenencData  = 1 << 21
	ClientDeprecateEOF          = 1 << 24
	ClientZstdCompression       = 1 << 26
	ClientQueryAttributes       = 1 << 27
	serverMoreResultsExists     = 0x0008
	maxPayload                  = 0xffffff
	headerLen                   = 4
	greetingProtocol            = 10
	loginFillerStart, loginSize = 9, 32
)

// Config tunes the decoder. It has no fields yet; the zero value (or a nil
// *Config) means defaults.
type Config struct{}

// Decoder is the MySQL decoder. It is stateless and safe for concurrent
// use; get one from New.
type Decoder struct {
	cfg Config
}

// New returns the MySQL decoder configured by c; nil means defaults.
func New(c *Config) *Decoder {
	d := &Decoder{}
	if c != nil {
		d.cfg = *c
	}
	return d
}

// Name returns "MySQL".
func (*Decoder) Name() string { return Name }

// NewParser returns per-flow state, a *Parser.
func (*Decoder) NewParser(t l7.Transport) l7.Parser { return newParser() }

// Check recognises the first bytes of a MySQL flow: a server greeting
// (protocol 10 and a printable version) or a greeting replaced by ERR, a
// login or SSL request, a command packet (sequence 0, a known command, a
// length that fits what was captured and, for SQL, text), an OK, ERR or
// result-set start (column count then a column definition) from the
// server, a compressed-protocol frame wrapping one of these (or any
// deflated frame), or, from a connection joined in the middle of a
// response, a chain of at least three whole packets with consecutive
// sequence ids after a cut one (starting within the first 256 bytes). MySQL runs over TCP only; dir is not used.
func (*Decoder) Check(p []byte, dir l7.Direction, t l7.Transport) l7.Verdict {
	if t != l7.TCP || len(p) < headerLen+1 {
		return l7.No
	}
	if v := checkPlain(p); v != l7.No {
		return v
	}
	if isCompressed(p) {
		if p[3] == 0 {
			return l7.Request
		}
		return l7.Response
	}
	if resyncOffset(p, checkScan) > 0 {
		// Joined in the middle of a response: after its cut first
		// packet, a chain of whole packets numbered in sequence.
		return l7.Response
	}
	return l7.No
}

// Bounds of the packet chains resyncOffset looks for.
const (
	resyncScan    = 4096    // offsets the parser tries
	checkScan     = 256     // offsets Check tries (each segment is another try)
	resyncMaxPlen = 1 << 20 // longest packet of a chain
	resyncMinRun  = 3       // packets of a chain after a cut one
)

// chainEnds tells whether b[o:] is a chain of packets (lengths 1 to
// resyncMaxPlen, sequence ids consecutive) ending at the end of b or with
// a packet that runs past it, how many packets it has and whether it ends
// exactly at the end of b.
func chainEnds(b []byte, o int) (n int, ok, exact bool) {
	var prev byte
	for {
		if o == len(b) {
			return n, n > 0, true
		}
		if len(b)-o < headerLen {
			return n, n > 0, false // a header cut by the end
		}
		plen, seq := le24(b[o:]), b[o+3]
		if plen == 0 || plen > resyncMaxPlen || n > 0 && seq != prev+1 {
			return n, false, false
		}
		prev = seq
		n++
		o += headerLen + plen
		if o > len(b) {
			return n, true, false
		}
	}
}

// resyncOffset finds where whole packets start in b, bytes of a
// connection joined in the middle of a packet: 0 when b starts with
// packets that end with it, or with two or more in sequence; else the
// offset of the first chain of at least resyncMinRun packets within the
// first scan bytes; else 0 when b starts with one packet longer
// than b (a long packet, or a cut one: it cannot be told); -1 when
// nothing fits.
func resyncOffset(b []byte, scan int) int {
	n, ok, exact := chainEnds(b, 0)
	if ok && (exact || n >= 2) {
		return 0
	}
	for o := 1; o < len(b)-headerLen && o < scan; o++ {
		// Cheap test first: a chain of three starts with a whole packet
		// followed by a header of the next one in sequence.
		next := o + headerLen + le24(b[o:])
		if next == o+headerLen || next+headerLen > len(b) || b[next+3] != b[o+3]+1 {
			continue
		}
		if n, ok, _ := chainEnds(b, o); ok && n >= resyncMinRun {
			return o
		}
	}
	if ok {
		return 0
	}
	return -1
}

func checkPlain(p []byte) l7.Verdict {
	plen := le24(p)
	seq := p[3]
	body := p[headerLen:]
	if plen == 0 {
		return l7.No
	}
	if len(body) > plen {
		body = body[:plen]
	}
	switch {
	case seq == 0 && body[0] == greetingProtocol:
		if isGreeting(body, plen) {
			return l7.Response
		}
	case seq == 0 && body[0] == 0xff:
		if isErr(body, plen) {
			return l7.Response // greeting replaced by an error (host blocked, too many connections)
		}
	case seq == 0:
		if plen > 1<<20 && plen != maxPayload {
			return l7.No
		}
		if isCommand(body, plen) {
			return l7.Request
		}
	case seq == 1 && plen >= loginSize && len(body) >= loginSize:
		if isLogin(body) {
			return l7.Request
		}
		fallthrough
	default:
		if seq < 1 || len(body) < 1 {
			return l7.No
		}
		switch body[0] {
		case 0x00:
			if plen >= 7 && plen <= 64 && plen == len(body) && len(p) == headerLen+plen {
				return l7.Response // OK alone in its segment
			}
		case 0xff:
			if isErr(body, plen) {
				return l7.Response
			}
		default:
			// A result set: a column count alone in its packet, then a
			// column definition starting with catalog "def".
			if plen == 1 && body[0] < 0xfb && body[0] > 0 && len(p) >= 2*headerLen+5 {
				col := p[headerLen+1:]
				if int(col[3]) == int(seq)+1 && col[4] == 3 && string(col[5:8]) == "def" {
					return l7.Response
				}
			}
		}
	}
	return l7.No
}

// isGreeting: protocol 10, a version of printable bytes ending in NUL,
// then at least the connection id, scramble and capability bytes.
func isGreeting(body []byte, plen int) bool {
	if plen < 1+2+4+8+1+2 || plen > 1024 {
		return false
	}
	for i := 1; i < len(body) && i < 64; i++ {
		c := body[i]
		if c == 0 {
			return i > 1 && len(body) >= i+1+4+8+1+2
		}
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return false
}

// isErr: 0xff, a plausible error code (1000-9999 server, 2000-2999
// client), and either "#" and a 5-character SQLSTATE or printable text.
func isErr(body []byte, plen int) bool {
	if plen < 4 || plen > 1024 || len(body) < 4 {
		return false
	}
	code := int(body[1]) | int(body[2])<<8
	if code < 1000 || code > 9999 {
		return false
	}
	if body[3] == '#' {
		return len(body) >= 9
	}
	return printable(body[3:])
}

// isCommand judges a command packet's body.
func isCommand(body []byte, plen int) bool {
	switch body[0] {
	case ComQuit, ComPing, ComStatistics, ComResetConnection, ComDebug, ComProcessInfo, ComTime:
		return plen == 1
	case ComQuery:
		if plen < 2 {
			return false
		}
		sql := body[1:]
		if len(sql) >= 2 && sql[0] == 0 && sql[1] == 1 {
			sql = sql[2:] // query attributes: none, one set
		}
		return looksSQL(sql)
	case ComStmtPrepare, ComInitDB, ComCreateDB, ComDropDB:
		return plen >= 2 && looksSQL(body[1:])
	case ComFieldList:
		return plen >= 2 && printable(body[1:min(len(body), 16)])
	case ComStmtExecute:
		// statement id, flags, iteration count 1.
		return plen >= 10 && len(body) >= 10 && body[4] < 0x20 && body[6] == 1 && body[7] == 0 && body[8] == 0 && body[9] == 0
	case ComStmtClose, ComStmtReset:
		return plen == 5
	case ComStmtFetch:
		return plen == 9
	case ComSetOption:
		return plen == 3 && body[2] == 0 && body[1] <= 1
	case ComProcessKill, ComRefresh:
		return plen == 5 || plen == 2
	case ComChangeUser:
		return plen >= 3 && printable(body[1:2])
	}
	return false
}

// isLogin judges a HandshakeResponse41 or SSL request: capabilities with
// PROTOCOL_41, then 23 zero filler bytes after max packet and charset.
func isLogin(body []byte) bool {
	caps := le32(body)
	if caps&ClientProtocol41 == 0 {
		return false
	}
	for _, c := range body[loginFillerStart:loginSize] {
		if c != 0 {
			return false
		}
	}
	return true
}

// isCompressed recognises a compressed-protocol frame: a 7-byte header
// (compressed length, sequence, uncompressed length) whose payload is one
// whole MySQL packet sent as is (sequence 0 to 3), or a zlib stream (CMF
// 0x78, a valid FCHECK, no preset dictionary) of at least the 50 bytes
// below which servers and clients do not compress. The frame must end within p unless
// p is a full segment.
func isCompressed(p []byte) bool {
	if len(p) < 7+headerLen+1 {
		return false
	}
	clen, ulen := le24(p), le24(p[4:])
	if clen < headerLen+1 || clen+7 > len(p) && len(p) < 536 {
		return false
	}
	inner := p[7:]
	if ulen == 0 {
		// A frame sent as is: early in an exchange (sequence 0-3).
		return p[3] <= 3 && clen <= len(inner) && le24(inner)+headerLen == clen && checkPlain(inner[:clen]) != l7.No
	}
	// A deflated frame, at any sequence id: the frames of a long
	// response are numbered on.
	return ulen >= 50 && ulen+16 >= clen && inner[0] == 0x78 && inner[1]&0x20 == 0 &&
		(uint16(inner[0])<<8|uint16(inner[1]))%31 == 0
}

// looksSQL: the first bytes are text a statement starts with.
func looksSQL(b []byte) bool {
	n := 0
	for _, c := range b {
		if n == 8 {
			break
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '(' || c == '/' || c == '-' || c == '#' || c == '`' || c == '_' || c == '@' || c == '*') {
			return false
		}
		n++
	}
	return n > 0
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return len(b) > 0
}

func le16(b []byte) int { return int(b[0]) | int(b[1])<<8 }
func le24(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// lenenc reads a length-encoded integer; ok is false when b is too short
// or holds the NULL (0xfb) or ERR (0xff) marker.
func lenenc(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1, true
	case c == 0xfc && len(b) >= 3:
		return uint64(le16(b[1:])), 3, true
	case c == 0xfd && len(b) >= 4:
		return uint64(le24(b[1:])), 4, true
	case c == 0xfe && len(b) >= 9:
		return uint64(le32(b[1:])) | uint64(le32(b[5:]))<<32, 9, true
	}
	return 0, 0, false
}
