package expr

import (
	"strings"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tName  // #name
	tValue // :value
	tInt   // digits (list index)
	tPunct // ( ) [ ] , . = <> < <= > >= + -
	tBad
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

// lex splits an expression into tokens. An unexpected character becomes a tBad token, which the
// parser reports as a syntax error.
func lex(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			out = append(out, token{tIdent, s[i:j], i})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, token{tInt, s[i:j], i})
			i = j
		case c == '#' || c == ':':
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			k := tName
			if c == ':' {
				k = tValue
			}
			if j == i+1 {
				k = tBad
			}
			out = append(out, token{k, s[i:j], i})
			i = j
		case strings.IndexByte("()[],.=+-", c) >= 0:
			out = append(out, token{tPunct, s[i : i+1], i})
			i++
		case c == '<':
			if i+1 < len(s) && (s[i+1] == '=' || s[i+1] == '>') {
				out = append(out, token{tPunct, s[i : i+2], i})
				i += 2
			} else {
				out = append(out, token{tPunct, "<", i})
				i++
			}
		case c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				out = append(out, token{tPunct, ">=", i})
				i += 2
			} else {
				out = append(out, token{tPunct, ">", i})
				i++
			}
		default:
			j := i + 1
			for j < len(s) && s[j] >= 0x80 && s[j] < 0xC0 { // keep a UTF-8 sequence whole
				j++
			}
			out = append(out, token{tBad, s[i:j], i})
			i = j
		}
	}
	return append(out, token{tEOF, "<EOF>", len(s)})
}
