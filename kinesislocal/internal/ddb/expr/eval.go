package expr

import (
	"strings"
	"unicode/utf8"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

// Resolve returns the value at path p in item, if present.
func Resolve(it attr.Item, p Path) (attr.Value, bool) {
	v, ok := it[p[0].Name]
	if !ok {
		return attr.Value{}, false
	}
	for _, e := range p[1:] {
		switch {
		case e.IsIndex && v.Kind == attr.L:
			if e.Index >= len(v.List) {
				return attr.Value{}, false
			}
			v = v.List[e.Index]
		case !e.IsIndex && v.Kind == attr.M:
			nv, ok := v.Map[e.Name]
			if !ok {
				return attr.Value{}, false
			}
			v = nv
		default:
			return attr.Value{}, false
		}
	}
	return v, true
}

// Eval reports whether the condition holds for item (which may be nil: no item). A nil
// condition holds.
func Eval(c Cond, it attr.Item) bool {
	switch c := c.(type) {
	case nil:
		return true
	case *AndCond:
		return Eval(c.L, it) && Eval(c.R, it)
	case *OrCond:
		return Eval(c.L, it) || Eval(c.R, it)
	case *NotCond:
		return !Eval(c.C, it)
	case *CompareCond:
		l, lok := condValue(c.L, it)
		r, rok := condValue(c.R, it)
		switch c.Op {
		case "=":
			return lok && rok && attr.Equal(l, r)
		case "<>":
			return !(lok && rok && attr.Equal(l, r))
		}
		if !lok || !rok {
			return false
		}
		n, ok := attr.Compare(l, r)
		if !ok {
			return false
		}
		switch c.Op {
		case "<":
			return n < 0
		case "<=":
			return n <= 0
		case ">":
			return n > 0
		case ">=":
			return n >= 0
		}
		return false
	case *BetweenCond:
		v, ok1 := condValue(c.V, it)
		lo, ok2 := condValue(c.Lo, it)
		hi, ok3 := condValue(c.Hi, it)
		if !ok1 || !ok2 || !ok3 {
			return false
		}
		a, ok := attr.Compare(lo, v)
		if !ok || a > 0 {
			return false
		}
		b, ok := attr.Compare(v, hi)
		return ok && b <= 0
	case *InCond:
		v, ok := condValue(c.V, it)
		if !ok {
			return false
		}
		for _, o := range c.List {
			if w, ok := condValue(o, it); ok && attr.Equal(v, w) {
				return true
			}
		}
		return false
	case *FuncCond:
		return evalFunc(c, it)
	}
	return false
}

func evalFunc(c *FuncCond, it attr.Item) bool {
	v, ok := condValue(c.Path, it)
	switch c.Name {
	case "attribute_exists":
		return ok
	case "attribute_not_exists":
		return !ok
	}
	if !ok {
		return false
	}
	arg, aok := condValue(c.Arg, it)
	if !aok {
		return false
	}
	switch c.Name {
	case "attribute_type":
		return arg.Kind == attr.S && v.Kind.String() == arg.Str
	case "begins_with":
		return (v.Kind == attr.S || v.Kind == attr.B) && v.Kind == arg.Kind && strings.HasPrefix(v.Str, arg.Str)
	case "contains":
		switch v.Kind {
		case attr.S:
			return arg.Kind == attr.S && strings.Contains(v.Str, arg.Str)
		case attr.B:
			return arg.Kind == attr.B && strings.Contains(v.Str, arg.Str)
		case attr.SS, attr.NS, attr.BS:
			elem := map[attr.Kind]attr.Kind{attr.SS: attr.S, attr.NS: attr.N, attr.BS: attr.B}[v.Kind]
			if arg.Kind != elem {
				return false
			}
			for _, s := range v.Set {
				if attr.Equal(attr.Value{Kind: elem, Str: s}, arg) {
					return true
				}
			}
		case attr.L:
			for _, e := range v.List {
				if attr.Equal(e, arg) {
					return true
				}
			}
		}
	}
	return false
}

// condValue evaluates a condition operand; ok is false when it has no value.
func condValue(o Operand, it attr.Item) (attr.Value, bool) {
	switch o := o.(type) {
	case *ValueOp:
		return o.V, true
	case *PathOp:
		return Resolve(it, o.Path)
	case *SizeOp:
		v, ok := Resolve(it, o.Path)
		if !ok {
			return v, false
		}
		n := 0
		switch v.Kind {
		case attr.S:
			n = utf8.RuneCountInString(v.Str)
		case attr.B:
			n = len(v.Str)
		case attr.SS, attr.NS, attr.BS:
			n = len(v.Set)
		case attr.L:
			n = len(v.List)
		case attr.M:
			n = len(v.Map)
		default:
			return attr.Value{}, false
		}
		return attr.NumV(itoa(n)), true
	}
	return attr.Value{}, false
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Project returns the parts of item named by paths (nil paths: the whole item).
func Project(it attr.Item, paths []Path) attr.Item {
	if paths == nil || it == nil {
		return it
	}
	root := &projNode{}
	for _, p := range paths {
		n := root
		for _, e := range p {
			n = n.child(e)
		}
		n.leaf = true
	}
	out := attr.Item{}
	for name, child := range root.names {
		if v, ok := it[name]; ok {
			if pv, ok := child.apply(v); ok {
				out[name] = pv
			}
		}
	}
	return out
}

type projNode struct {
	leaf    bool
	names   map[string]*projNode
	indexes map[int]*projNode
}

func (n *projNode) child(e PathElem) *projNode {
	if e.IsIndex {
		if n.indexes == nil {
			n.indexes = map[int]*projNode{}
		}
		c := n.indexes[e.Index]
		if c == nil {
			c = &projNode{}
			n.indexes[e.Index] = c
		}
		return c
	}
	if n.names == nil {
		n.names = map[string]*projNode{}
	}
	c := n.names[e.Name]
	if c == nil {
		c = &projNode{}
		n.names[e.Name] = c
	}
	return c
}

func (n *projNode) apply(v attr.Value) (attr.Value, bool) {
	if n.leaf {
		return v, true
	}
	switch {
	case v.Kind == attr.M && n.names != nil:
		m := map[string]attr.Value{}
		for name, c := range n.names {
			if e, ok := v.Map[name]; ok {
				if pv, ok := c.apply(e); ok {
					m[name] = pv
				}
			}
		}
		if len(m) == 0 {
			return attr.Value{}, false
		}
		return attr.Value{Kind: attr.M, Map: m}, true
	case v.Kind == attr.L && n.indexes != nil:
		var l []attr.Value
		for i, e := range v.List {
			if c, ok := n.indexes[i]; ok {
				if pv, ok := c.apply(e); ok {
					l = append(l, pv)
				}
			}
		}
		if len(l) == 0 {
			return attr.Value{}, false
		}
		return attr.Value{Kind: attr.L, List: l}, true
	}
	return attr.Value{}, false
}

// CondPaths lists the document paths a condition reads.
func CondPaths(c Cond) []Path {
	var out []Path
	var op func(o Operand)
	op = func(o Operand) {
		switch o := o.(type) {
		case *PathOp:
			out = append(out, o.Path)
		case *SizeOp:
			out = append(out, o.Path)
		}
	}
	var walk func(c Cond)
	walk = func(c Cond) {
		switch c := c.(type) {
		case *AndCond:
			walk(c.L)
			walk(c.R)
		case *OrCond:
			walk(c.L)
			walk(c.R)
		case *NotCond:
			walk(c.C)
		case *CompareCond:
			op(c.L)
			op(c.R)
		case *BetweenCond:
			op(c.V)
			op(c.Lo)
			op(c.Hi)
		case *InCond:
			op(c.V)
			for _, o := range c.List {
				op(o)
			}
		case *FuncCond:
			op(c.Path)
			op(c.Arg)
		}
	}
	walk(c)
	return out
}
