package expr

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

// Params holds a request's ExpressionAttributeNames and ExpressionAttributeValues and records
// which of them the request's expressions used. Not safe for concurrent use.
type Params struct {
	Names  map[string]string
	Values map[string]attr.Value

	usedNames  map[string]bool
	usedValues map[string]bool
}

// CheckUnused reports placeholders that no parsed expression used, with DynamoDB's message.
func (p *Params) CheckUnused() error {
	var un []string
	for k := range p.Names {
		if !p.usedNames[k] {
			un = append(un, k)
		}
	}
	if len(un) > 0 {
		slices.Sort(un)
		return &Error{"Value provided in ExpressionAttributeNames unused in expressions: keys: {" + strings.Join(un, ", ") + "}"}
	}
	var uv []string
	for k := range p.Values {
		if !p.usedValues[k] {
			uv = append(uv, k)
		}
	}
	if len(uv) > 0 {
		slices.Sort(uv)
		return &Error{"Value provided in ExpressionAttributeValues unused in expressions: keys: {" + strings.Join(uv, ", ") + "}"}
	}
	return nil
}

// maxExprLen is DynamoDB's limit on an expression string.
const maxExprLen = 4096

type parser struct {
	what string // "ConditionExpression", "UpdateExpression", ...
	toks []token
	pos  int
	p    *Params
	err  *Error
}

func newParser(what, s string, p *Params) (*parser, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &Error{"Invalid " + what + ": The expression can not be empty;"}
	}
	if len(s) > maxExprLen {
		return nil, &Error{"Invalid " + what + ": Expression size has exceeded the maximum allowed size; expression size: " + strconv.Itoa(len(s))}
	}
	if p == nil {
		p = &Params{}
	}
	return &parser{what: what, toks: lex(s), p: p}, nil
}

// bail aborts parsing with an error; recovered in run.
type bail struct{}

func (ps *parser) fail(format string, args ...any) {
	if ps.err == nil {
		ps.err = &Error{"Invalid " + ps.what + ": " + fmt.Sprintf(format, args...)}
	}
	panic(bail{})
}

func (ps *parser) syntax() {
	t := ps.toks[ps.pos]
	lo := max(ps.pos-1, 0)
	hi := min(ps.pos+1, len(ps.toks)-1)
	var near []string
	for i := lo; i <= hi; i++ {
		if ps.toks[i].kind != tEOF {
			near = append(near, ps.toks[i].text)
		}
	}
	ps.fail("Syntax error; token: %q, near: %q", t.text, strings.Join(near, " "))
}

func (ps *parser) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bail); !ok {
				panic(r)
			}
			err = ps.err
		}
	}()
	f()
	return nil
}

func (ps *parser) peek() token { return ps.toks[ps.pos] }
func (ps *parser) next() token {
	t := ps.toks[ps.pos]
	if t.kind != tEOF {
		ps.pos++
	}
	return t
}

func (ps *parser) isPunct(s string) bool {
	t := ps.peek()
	return t.kind == tPunct && t.text == s
}

func (ps *parser) isKeyword(k string) bool {
	t := ps.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, k)
}

func (ps *parser) expectPunct(s string) {
	if !ps.isPunct(s) {
		ps.syntax()
	}
	ps.next()
}

func (ps *parser) expectEOF() {
	if ps.peek().kind != tEOF {
		ps.syntax()
	}
}

// name resolves an identifier or #placeholder to an attribute name.
func (ps *parser) name() string {
	t := ps.peek()
	switch t.kind {
	case tIdent:
		if isReserved(t.text) {
			ps.fail("Attribute name is a reserved keyword; reserved keyword: %s", t.text)
		}
		ps.next()
		return t.text
	case tName:
		ps.next()
		n, ok := ps.p.Names[t.text]
		if !ok {
			ps.fail("An expression attribute name used in the document path is not defined; attribute name: %s", t.text)
		}
		if ps.p.usedNames == nil {
			ps.p.usedNames = map[string]bool{}
		}
		ps.p.usedNames[t.text] = true
		return n
	}
	ps.syntax()
	return ""
}

func (ps *parser) path() Path {
	p := Path{{Name: ps.name()}}
	for {
		switch {
		case ps.isPunct("."):
			ps.next()
			p = append(p, PathElem{Name: ps.name()})
		case ps.isPunct("["):
			ps.next()
			t := ps.peek()
			if t.kind != tInt {
				ps.syntax()
			}
			n, err := strconv.Atoi(t.text)
			if err != nil || n > 1<<20 {
				ps.fail("List index is too large; index: %s", t.text)
			}
			ps.next()
			ps.expectPunct("]")
			p = append(p, PathElem{Index: n, IsIndex: true})
		default:
			if len(p) > attr.MaxDepth {
				ps.fail("The document path has too many nesting levels; nesting levels: %d", len(p))
			}
			return p
		}
	}
}

func (ps *parser) value() *ValueOp {
	t := ps.next()
	v, ok := ps.p.Values[t.text]
	if !ok {
		ps.fail("An expression attribute value used in expression is not defined; attribute value: %s", t.text)
	}
	if ps.p.usedValues == nil {
		ps.p.usedValues = map[string]bool{}
	}
	ps.p.usedValues[t.text] = true
	return &ValueOp{Name: t.text, V: v}
}

var condFuncs = map[string]bool{"attribute_exists": true, "attribute_not_exists": true,
	"attribute_type": true, "begins_with": true, "contains": true}
var updateFuncs = map[string]bool{"if_not_exists": true, "list_append": true}

func (ps *parser) isCall() bool {
	return ps.peek().kind == tIdent && ps.pos+1 < len(ps.toks) &&
		ps.toks[ps.pos+1].kind == tPunct && ps.toks[ps.pos+1].text == "("
}

// args parses "( operand, ... )" with the given operand parser.
func (ps *parser) args(operand func() Operand) []Operand {
	ps.expectPunct("(")
	var out []Operand
	for {
		out = append(out, operand())
		if ps.isPunct(",") {
			ps.next()
			continue
		}
		break
	}
	ps.expectPunct(")")
	return out
}

func (ps *parser) wantArgs(fn string, args []Operand, n int) {
	if len(args) != n {
		ps.fail("Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", fn, len(args))
	}
}

func (ps *parser) wantPath(fn string, o Operand) Path {
	p, ok := o.(*PathOp)
	if !ok {
		ps.fail("Operator or function requires a document path; operator or function: %s", fn)
	}
	return p.Path
}

// ParseCondition parses a ConditionExpression (what names the parameter in error messages, e.g.
// "ConditionExpression", "FilterExpression", "KeyConditionExpression").
func ParseCondition(what, s string, p *Params) (Cond, error) {
	ps, err := newParser(what, s, p)
	if err != nil {
		return nil, err
	}
	var c Cond
	err = ps.run(func() {
		c = ps.or()
		ps.expectEOF()
	})
	return c, err
}

func (ps *parser) or() Cond {
	l := ps.and()
	for ps.isKeyword("OR") {
		ps.next()
		l = &OrCond{l, ps.and()}
	}
	return l
}

func (ps *parser) and() Cond {
	l := ps.not()
	for ps.isKeyword("AND") {
		ps.next()
		l = &AndCond{l, ps.not()}
	}
	return l
}

func (ps *parser) not() Cond {
	if ps.isKeyword("NOT") {
		ps.next()
		return &NotCond{ps.not()}
	}
	return ps.primary()
}

func (ps *parser) primary() Cond {
	if ps.isPunct("(") {
		ps.next()
		c := ps.or()
		ps.expectPunct(")")
		return c
	}
	if ps.isCall() && ps.peek().text != "size" {
		fn := ps.next().text
		switch {
		case condFuncs[fn]:
		case updateFuncs[fn]:
			ps.fail("The function is not allowed to be used this way in an expression; function: %s", fn)
		default:
			ps.fail("Invalid function name; function: %s", fn)
		}
		args := ps.args(ps.condOperand)
		switch fn {
		case "attribute_exists", "attribute_not_exists":
			ps.wantArgs(fn, args, 1)
			ps.wantPath(fn, args[0])
			return &FuncCond{Name: fn, Path: args[0]}
		case "attribute_type":
			ps.wantArgs(fn, args, 2)
			ps.wantPath(fn, args[0])
			v, ok := args[1].(*ValueOp)
			if !ok || v.V.Kind != attr.S {
				ps.fail("Incorrect operand type for operator or function; operator or function: %s, operand type: %s", fn, operandType(args[1]))
			}
			if attr.KindOf(v.V.Str) == attr.Invalid {
				ps.fail("Invalid attribute type name found; type: %s, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}", v.V.Str)
			}
			return &FuncCond{Name: fn, Path: args[0], Arg: args[1]}
		case "begins_with":
			ps.wantArgs(fn, args, 2)
			for _, a := range args {
				if v, ok := a.(*ValueOp); ok && v.V.Kind != attr.S && v.V.Kind != attr.B {
					ps.fail("Incorrect operand type for operator or function; operator or function: %s, operand type: %s", fn, v.V.Kind)
				}
			}
			return &FuncCond{Name: fn, Path: args[0], Arg: args[1]}
		default: // contains
			ps.wantArgs(fn, args, 2)
			return &FuncCond{Name: fn, Path: args[0], Arg: args[1]}
		}
	}
	l := ps.condOperand()
	t := ps.peek()
	switch {
	case t.kind == tPunct && (t.text == "=" || t.text == "<>" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		ps.next()
		r := ps.condOperand()
		return &CompareCond{Op: t.text, L: l, R: r}
	case ps.isKeyword("BETWEEN"):
		ps.next()
		lo := ps.condOperand()
		if !ps.isKeyword("AND") {
			ps.syntax()
		}
		ps.next()
		hi := ps.condOperand()
		lv, lok := lo.(*ValueOp)
		hv, hok := hi.(*ValueOp)
		if lok && hok {
			if c, ok := attr.Compare(lv.V, hv.V); ok && c > 0 {
				ps.fail("The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {%s:%s}, upper bound operand: AttributeValue: {%s:%s}",
					lv.V.Kind, lv.V.Str, hv.V.Kind, hv.V.Str)
			}
		}
		return &BetweenCond{V: l, Lo: lo, Hi: hi}
	case ps.isKeyword("IN"):
		ps.next()
		list := ps.args(ps.condOperand)
		if len(list) > 100 {
			ps.fail("The IN operator is provided with too many operands; number of operands: %d", len(list))
		}
		return &InCond{V: l, List: list}
	}
	ps.syntax()
	return nil
}

func operandType(o Operand) string {
	if v, ok := o.(*ValueOp); ok {
		switch v.V.Kind {
		case attr.S:
			return "STRING"
		case attr.N:
			return "NUMBER"
		case attr.B:
			return "BINARY"
		case attr.M:
			return "MAP"
		case attr.L:
			return "LIST"
		case attr.BOOL:
			return "BOOLEAN"
		case attr.NULL:
			return "NULL"
		case attr.SS:
			return "SS"
		case attr.NS:
			return "NS"
		case attr.BS:
			return "BS"
		}
	}
	return "PATH"
}

func (ps *parser) condOperand() Operand {
	t := ps.peek()
	switch {
	case t.kind == tValue:
		return ps.value()
	case ps.isCall():
		fn := ps.next().text
		switch {
		case fn == "size":
		case condFuncs[fn]:
			ps.fail("The function is not allowed to be used this way in an expression; function: %s", fn)
		case updateFuncs[fn]:
			ps.fail("The function is not allowed to be used this way in an expression; function: %s", fn)
		default:
			ps.fail("Invalid function name; function: %s", fn)
		}
		args := ps.args(ps.condOperand)
		ps.wantArgs(fn, args, 1)
		return &SizeOp{Path: ps.wantPath(fn, args[0])}
	case t.kind == tIdent || t.kind == tName:
		return &PathOp{Path: ps.path()}
	}
	ps.syntax()
	return nil
}
