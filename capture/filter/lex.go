package filter

import "fmt"

// SyntaxError reports an expression that cannot be compiled: a token that
// does not fit the grammar, a value out of range, or a primitive the link
// type cannot express.
type SyntaxError struct {
	Pos   int    // byte offset of the token in the expression; -1 when the error concerns the whole expression
	Token string // the offending token; "" at the end of the expression
	Msg   string // what was expected or what is wrong
}

func (e *SyntaxError) Error() string {
	if e.Pos < 0 {
		return "filter: " + e.Msg
	}
	if e.Token == "" {
		return fmt.Sprintf("filter: unexpected end of expression at %d: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("filter: unexpected %q at %d: %s", e.Token, e.Pos, e.Msg)
}

type tokKind uint8

const (
	tEOF    tokKind = iota
	tWord           // keywords, numbers, addresses, names
	tLParen         // (
	tRParen         // )
	tLBrack         // [
	tRBrack         // ]
	tColon          // : (inside brackets)
	tNot            // !
	tAndAnd         // &&
	tOrOr           // ||
	tPlus
	tMinus
	tStar
	tSlash
	tPercent
	tAmp
	tPipe
	tCaret
	tShl
	tShr
	tEq // = or ==
	tNe
	tLt
	tLe
	tGt
	tGe
)

type token struct {
	kind    tokKind
	text    string
	pos     int
	escaped bool // a word written with a leading backslash (\tcp)
}

func isWordByte(c byte, inBrackets bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '.' || c == '_' || c == '-':
		return true
	case c == ':':
		return !inBrackets
	}
	return false
}

// lex splits an expression into tokens.
func lex(s string) ([]token, error) {
	var toks []token
	brackets := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		start := i
		two := ""
		if i+1 < len(s) {
			two = s[i : i+2]
		}
		op := func(k tokKind, n int) {
			toks = append(toks, token{kind: k, text: s[start : start+n], pos: start})
			i += n
		}
		switch {
		case two == "&&":
			op(tAndAnd, 2)
		case two == "||":
			op(tOrOr, 2)
		case two == "==":
			op(tEq, 2)
		case two == "!=":
			op(tNe, 2)
		case two == "<=":
			op(tLe, 2)
		case two == ">=":
			op(tGe, 2)
		case two == "<<":
			op(tShl, 2)
		case two == ">>":
			op(tShr, 2)
		case c == '(':
			op(tLParen, 1)
		case c == ')':
			op(tRParen, 1)
		case c == '[':
			brackets++
			op(tLBrack, 1)
		case c == ']':
			brackets--
			op(tRBrack, 1)
		case c == ':' && (brackets > 0 || two != "::"):
			op(tColon, 1)
		case c == '!':
			op(tNot, 1)
		case c == '+':
			op(tPlus, 1)
		case c == '-':
			op(tMinus, 1)
		case c == '*':
			op(tStar, 1)
		case c == '/':
			op(tSlash, 1)
		case c == '%':
			op(tPercent, 1)
		case c == '&':
			op(tAmp, 1)
		case c == '|':
			op(tPipe, 1)
		case c == '^':
			op(tCaret, 1)
		case c == '=':
			op(tEq, 1)
		case c == '<':
			op(tLt, 1)
		case c == '>':
			op(tGt, 1)
		default:
			escaped := false
			if c == '\\' {
				escaped = true
				i++
			}
			j := i
			for j < len(s) && isWordByte(s[j], brackets > 0) {
				j++
			}
			if j == i {
				return nil, &SyntaxError{Pos: start, Token: s[start : start+1], Msg: "illegal character"}
			}
			toks = append(toks, token{kind: tWord, text: s[i:j], pos: start, escaped: escaped})
			i = j
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(s)})
	return toks, nil
}
