package mysql

// endpointCap bounds the endpoint: the keyword, a space and the table
// (a longer table name is cut).
const endpointCap = 160

// appendEndpoint appends the endpoint of a statement (RECORDS.md): its
// first keyword upper-cased, then, if there is one, a space and the first
// table named after FROM, INTO, UPDATE, TABLE or JOIN in the first
// statement (up to a semicolon), as written but
// without its quotes ("db.t" kept whole). Comments are skipped; a CTE
// (WITH ...) gives its main statement's keyword and table, the tables of
// its definitions ignored. It returns dst unchanged when the statement
// has no keyword.
func appendEndpoint(dst, sql []byte) []byte {
	s := scanner{b: sql}
	kw, ok := s.next()
	for ok && kw == nil && s.b[s.i-1] == '(' { // (SELECT ...) UNION ...
		kw, ok = s.next()
	}
	if kw == nil {
		return dst
	}
	if upperIs(kw, "WITH") {
		kw = s.mainAfterCTE()
		if kw == nil {
			return dst
		}
	}
	start := len(dst)
	for _, c := range kw {
		if len(dst)-start == 32 {
			break
		}
		dst = append(dst, upper(c))
	}
	// The keyword itself may introduce the table (UPDATE t, TABLE t).
	if isTableKeyword(kw) {
		if t, ok := s.table(); ok {
			return appendTable(dst, t, start)
		}
	}
	for {
		w, ok := s.next()
		if !ok || w == nil && s.b[s.i-1] == ';' { // the end of the first statement
			return dst
		}
		if w != nil && isTableKeyword(w) {
			if t, ok := s.table(); ok {
				return appendTable(dst, t, start)
			}
		}
	}
}

func appendTable(dst, t []byte, start int) []byte {
	dst = append(dst, ' ')
	for _, c := range t {
		if len(dst)-start == endpointCap {
			break
		}
		if c != '`' && c != '"' {
			dst = append(dst, c)
		}
	}
	return dst
}

func isTableKeyword(w []byte) bool {
	switch len(w) {
	case 4:
		return upperIs(w, "FROM") || upperIs(w, "INTO") || upperIs(w, "JOIN")
	case 5:
		return upperIs(w, "TABLE")
	case 6:
		return upperIs(w, "UPDATE")
	}
	return false
}

// scanner walks SQL tokens: words (bare identifiers and keywords), quoted
// identifiers, strings, and single punctuation bytes, skipping blanks and
// comments.
type scanner struct {
	b []byte
	i int
}

// skip passes blanks and comments ("/* */" including MySQL's "/*! */",
// "-- " and "#" to the end of the line).
func (s *scanner) skip() {
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case byteClass[c] == classBlank:
			s.i++
		case c == '/' && s.i+1 < len(s.b) && s.b[s.i+1] == '*':
			end := s.i + 2
			for end+1 < len(s.b) && !(s.b[end] == '*' && s.b[end+1] == '/') {
				end++
			}
			s.i = min(end+2, len(s.b))
		case c == '#' || c == '-' && s.i+2 < len(s.b) && s.b[s.i+1] == '-' && (s.b[s.i+2] == ' ' || s.b[s.i+2] == '\t'):
			for s.i < len(s.b) && s.b[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

const (
	classOther = iota
	classWord  // identifier and keyword bytes
	classBlank // white space
)

var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '$', c >= 0x80:
			t[c] = classWord
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\f', c == '\v':
			t[c] = classBlank
		}
	}
	return t
}()

func isWordByte(c byte) bool { return byteClass[c] == classWord }

// next consumes one token; w is the word when the token is a bare word.
// ok is false at the end of the input.
func (s *scanner) next() (w []byte, ok bool) {
	s.skip()
	if s.i >= len(s.b) {
		return nil, false
	}
	c := s.b[s.i]
	switch {
	case isWordByte(c):
		j := s.i
		for s.i < len(s.b) && isWordByte(s.b[s.i]) {
			s.i++
		}
		return s.b[j:s.i], true
	case c == '\'' || c == '"' || c == '`':
		s.quoted(c)
		return nil, true
	}
	s.i++
	return nil, true
}

// quoted passes a quoted token starting at s.i (a doubled quote or, in
// strings, a backslash escapes).
func (s *scanner) quoted(q byte) {
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '\\' && q != '`':
			s.i++
		case c == q:
			if s.i < len(s.b) && s.b[s.i] == q {
				s.i++
				continue
			}
			return
		}
	}
	s.i = len(s.b)
}

// ident reads one identifier part at s.i (bare or quoted with ` or "),
// quotes included.
func (s *scanner) ident() ([]byte, bool) {
	if s.i >= len(s.b) {
		return nil, false
	}
	j := s.i
	switch c := s.b[s.i]; {
	case c == '`' || c == '"':
		s.quoted(c)
	case isWordByte(c):
		for s.i < len(s.b) && isWordByte(s.b[s.i]) {
			s.i++
		}
	default:
		return nil, false
	}
	return s.b[j:s.i], true
}

// table reads the table after a table keyword: modifiers (TABLE, IF NOT
// EXISTS, LOW_PRIORITY, ...) are passed; a subquery, variable or file
// gives none.
func (s *scanner) table() ([]byte, bool) {
	for {
		s.skip()
		j := s.i
		t, ok := s.ident()
		if !ok {
			return nil, false
		}
		if t[0] != '`' && t[0] != '"' {
			switch {
			case upperIs(t, "TABLE"), upperIs(t, "IF"), upperIs(t, "NOT"), upperIs(t, "EXISTS"),
				upperIs(t, "LOW_PRIORITY"), upperIs(t, "DELAYED"), upperIs(t, "HIGH_PRIORITY"),
				upperIs(t, "IGNORE"), upperIs(t, "QUICK"), upperIs(t, "ONLY"), upperIs(t, "LATERAL"):
				continue
			case upperIs(t, "OUTFILE"), upperIs(t, "DUMPFILE"), upperIs(t, "SELECT"), upperIs(t, "DUAL"):
				return nil, false
			}
		}
		// db.table: parts joined by dots, blanks around them allowed.
		for {
			k := s.i
			s.skip()
			if s.i >= len(s.b) || s.b[s.i] != '.' {
				s.i = k
				break
			}
			s.i++
			s.skip()
			if _, ok := s.ident(); !ok {
				break
			}
		}
		return trimBlank(s.b[j:s.i]), true
	}
}

// mainAfterCTE passes the definitions of a WITH clause (name [(columns)]
// AS (query), ...) and returns the main statement's keyword.
func (s *scanner) mainAfterCTE() []byte {
	depth := 0
	closed := false // a parenthesised group just closed at depth 0
	for {
		w, ok := s.next()
		if !ok {
			return nil
		}
		switch c := s.b[s.i-1]; {
		case w != nil:
			if depth == 0 && closed {
				if !upperIs(w, "AS") {
					return w // not a column list's AS: the main statement
				}
				closed = false
			}
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
			closed = depth == 0
		case c == ',' && depth == 0:
			closed = false
		}
	}
}

func trimBlank(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 0x20
	}
	return c
}

// upperIs: w equals the upper-case ASCII word k, ignoring case.
func upperIs(w []byte, k string) bool {
	if len(w) != len(k) {
		return false
	}
	for i := range len(k) {
		if upper(w[i]) != k[i] {
			return false
		}
	}
	return true
}
