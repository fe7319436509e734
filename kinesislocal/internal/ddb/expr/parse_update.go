package expr

import (
	"strings"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

// ParseUpdate parses an UpdateExpression.
func ParseUpdate(s string, p *Params) (*Update, error) {
	ps, err := newParser("UpdateExpression", s, p)
	if err != nil {
		return nil, err
	}
	u := &Update{}
	err = ps.run(func() {
		seen := map[string]bool{}
		if ps.peek().kind == tEOF {
			ps.syntax()
		}
		for ps.peek().kind != tEOF {
			t := ps.peek()
			if t.kind != tIdent {
				ps.syntax()
			}
			kw := strings.ToUpper(t.text)
			switch kw {
			case "SET", "REMOVE", "ADD", "DELETE":
			default:
				ps.syntax()
			}
			if seen[kw] {
				ps.fail("The %q section can only be used once in an update expression;", kw)
			}
			seen[kw] = true
			ps.next()
			for {
				switch kw {
				case "SET":
					path := ps.path()
					ps.expectPunct("=")
					u.Set = append(u.Set, SetAction{Path: path, Value: ps.setValue()})
				case "REMOVE":
					u.Remove = append(u.Remove, ps.path())
				case "ADD", "DELETE":
					path := ps.path()
					if ps.peek().kind != tValue {
						ps.syntax()
					}
					v := ps.value().V
					if kw == "ADD" && v.Kind != attr.N && v.Kind != attr.SS && v.Kind != attr.NS && v.Kind != attr.BS {
						ps.fail("Incorrect operand type for operator or function; operator: ADD, operand type: %s", operandType(&ValueOp{V: v}))
					}
					if kw == "DELETE" && v.Kind != attr.SS && v.Kind != attr.NS && v.Kind != attr.BS {
						ps.fail("Incorrect operand type for operator or function; operator: DELETE, operand type: %s", operandType(&ValueOp{V: v}))
					}
					ad := AddDelete{Path: path, Value: v}
					if kw == "ADD" {
						u.Add = append(u.Add, ad)
					} else {
						u.Delete = append(u.Delete, ad)
					}
				}
				if !ps.isPunct(",") {
					break
				}
				ps.next()
			}
		}
		if msg := overlap(u.Paths()); msg != "" {
			ps.fail("%s", msg)
		}
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (ps *parser) setValue() Operand {
	l := ps.setOperand()
	if ps.isPunct("+") || ps.isPunct("-") {
		sub := ps.next().text == "-"
		r := ps.setOperand()
		return &ArithOp{Sub: sub, A: l, B: r}
	}
	return l
}

func (ps *parser) setOperand() Operand {
	t := ps.peek()
	switch {
	case t.kind == tValue:
		return ps.value()
	case ps.isCall():
		fn := ps.next().text
		switch {
		case updateFuncs[fn]:
		case condFuncs[fn] || fn == "size":
			ps.fail("The function is not allowed in an update expression; function: %s", fn)
		default:
			ps.fail("Invalid function name; function: %s", fn)
		}
		args := ps.args(ps.setOperand)
		ps.wantArgs(fn, args, 2)
		if fn == "if_not_exists" {
			return &IfNotExistsOp{Path: ps.wantPath(fn, args[0]), Default: args[1]}
		}
		for _, a := range args {
			if v, ok := a.(*ValueOp); ok && v.V.Kind != attr.L {
				ps.fail("Incorrect operand type for operator or function; operator or function: list_append, operand type: %s", operandType(v))
			}
		}
		return &ListAppendOp{A: args[0], B: args[1]}
	case t.kind == tIdent || t.kind == tName:
		return &PathOp{Path: ps.path()}
	}
	ps.syntax()
	return nil
}

// ParseProjection parses a ProjectionExpression into its paths.
func ParseProjection(s string, p *Params) ([]Path, error) {
	ps, err := newParser("ProjectionExpression", s, p)
	if err != nil {
		return nil, err
	}
	var out []Path
	err = ps.run(func() {
		for {
			out = append(out, ps.path())
			if !ps.isPunct(",") {
				break
			}
			ps.next()
		}
		ps.expectEOF()
		if msg := overlap(out); msg != "" {
			ps.fail("%s", msg)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// overlap returns DynamoDB's message when two paths overlap (one is a prefix of the other) or
// conflict (one indexes a list where the other names a map key), or "".
func overlap(ps []Path) string {
	for i := range ps {
		for j := i + 1; j < len(ps); j++ {
			a, b := ps[i], ps[j]
			n := min(len(a), len(b))
			k := 0
			for ; k < n; k++ {
				if a[k] != b[k] {
					break
				}
			}
			if k == n {
				return "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: " + a.String() + ", path two: " + b.String()
			}
			if a[k].IsIndex != b[k].IsIndex {
				return "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: " + a.String() + ", path two: " + b.String()
			}
		}
	}
	return ""
}
