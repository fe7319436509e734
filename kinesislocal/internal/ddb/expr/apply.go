package expr

import (
	"errors"
	"slices"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

var (
	errPathInvalid = &Error{"The document path provided in the update expression is invalid for update"}
	errMissingAttr = &Error{"The provided expression refers to an attribute that does not exist in the item"}
	errOperandType = &Error{"An operand in the update expression has an incorrect data type"}
)

// Apply returns the item that results from applying u to old (nil: no item yet). It never
// modifies old. Right-hand sides of SET all see old, as in DynamoDB.
func (u *Update) Apply(old attr.Item) (attr.Item, error) {
	vals := make([]attr.Value, len(u.Set))
	for i, a := range u.Set {
		v, err := setOperandValue(a.Value, old)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	it := old.Clone()
	for i, a := range u.Set {
		if err := setPath(it, a.Path, vals[i]); err != nil {
			return nil, err
		}
	}
	if len(u.Remove) > 0 {
		rm := slices.Clone(u.Remove)
		slices.SortStableFunc(rm, comparePathsDesc)
		for _, p := range rm {
			if err := removePath(it, p); err != nil {
				return nil, err
			}
		}
	}
	for _, a := range u.Add {
		cur, ok := Resolve(it, a.Path)
		var nv attr.Value
		switch {
		case !ok:
			nv = a.Value
		case cur.Kind == attr.N && a.Value.Kind == attr.N:
			s, err := attr.AddNumbers(cur.Str, a.Value.Str, false)
			if err != nil {
				return nil, numErr(err)
			}
			nv = attr.NumV(s)
		case cur.Kind == a.Value.Kind && (cur.Kind == attr.SS || cur.Kind == attr.NS || cur.Kind == attr.BS):
			nv = attr.Value{Kind: cur.Kind, Set: union(cur.Set, a.Value.Set)}
		case cur.Kind == attr.L && a.Value.Kind == attr.L: // legacy AttributeUpdates ADD on a list
			nv = attr.Value{Kind: attr.L, List: append(slices.Clip(cur.List), a.Value.List...)}
		default:
			return nil, errOperandType
		}
		if err := setPath(it, a.Path, nv); err != nil {
			return nil, err
		}
	}
	for _, a := range u.Delete {
		cur, ok := Resolve(it, a.Path)
		if !ok {
			continue
		}
		if cur.Kind != a.Value.Kind {
			return nil, errOperandType
		}
		rest := difference(cur.Set, a.Value.Set)
		var err error
		if len(rest) == 0 {
			err = removePath(it, a.Path)
		} else {
			err = setPath(it, a.Path, attr.Value{Kind: cur.Kind, Set: rest})
		}
		if err != nil {
			return nil, err
		}
	}
	return it, nil
}

func numErr(err error) error {
	var ae *attr.Error
	if errors.As(err, &ae) {
		return &Error{ae.Msg}
	}
	return &Error{err.Error()}
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	in := make(map[string]struct{}, len(a))
	for _, s := range a {
		in[s] = struct{}{}
	}
	for _, s := range b {
		if _, ok := in[s]; !ok {
			out = append(out, s)
			in[s] = struct{}{}
		}
	}
	return out
}

func difference(a, b []string) []string {
	rm := make(map[string]struct{}, len(b))
	for _, s := range b {
		rm[s] = struct{}{}
	}
	var out []string
	for _, s := range a {
		if _, ok := rm[s]; !ok {
			out = append(out, s)
		}
	}
	return out
}

// comparePathsDesc orders paths so that higher list indexes of one list come first.
func comparePathsDesc(a, b Path) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x.IsIndex && y.IsIndex && x.Index != y.Index {
			return y.Index - x.Index
		}
		if !x.IsIndex && !y.IsIndex && x.Name != y.Name {
			if x.Name < y.Name {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

func setOperandValue(o Operand, old attr.Item) (attr.Value, error) {
	switch o := o.(type) {
	case *ValueOp:
		return o.V, nil
	case *PathOp:
		v, ok := Resolve(old, o.Path)
		if !ok {
			return v, errMissingAttr
		}
		return v, nil
	case *IfNotExistsOp:
		if v, ok := Resolve(old, o.Path); ok {
			return v, nil
		}
		return setOperandValue(o.Default, old)
	case *ListAppendOp:
		a, err := setOperandValue(o.A, old)
		if err != nil {
			return a, err
		}
		b, err := setOperandValue(o.B, old)
		if err != nil {
			return b, err
		}
		if a.Kind != attr.L || b.Kind != attr.L {
			return attr.Value{}, errOperandType
		}
		l := make([]attr.Value, 0, len(a.List)+len(b.List))
		return attr.Value{Kind: attr.L, List: append(append(l, a.List...), b.List...)}, nil
	case *ArithOp:
		a, err := setOperandValue(o.A, old)
		if err != nil {
			return a, err
		}
		b, err := setOperandValue(o.B, old)
		if err != nil {
			return b, err
		}
		if a.Kind != attr.N || b.Kind != attr.N {
			return attr.Value{}, errOperandType
		}
		s, err := attr.AddNumbers(a.Str, b.Str, o.Sub)
		if err != nil {
			return attr.Value{}, numErr(err)
		}
		return attr.NumV(s), nil
	}
	return attr.Value{}, errOperandType
}

// setPath writes v at p in it, copying (never mutating) the nested values on the way.
func setPath(it attr.Item, p Path, v attr.Value) error {
	name := p[0].Name
	if len(p) == 1 {
		it[name] = v
		return nil
	}
	cur, ok := it[name]
	if !ok {
		return errPathInvalid
	}
	nv, err := setIn(cur, p[1:], v)
	if err != nil {
		return err
	}
	it[name] = nv
	return nil
}

func setIn(cur attr.Value, rest Path, v attr.Value) (attr.Value, error) {
	e := rest[0]
	if e.IsIndex {
		if cur.Kind != attr.L {
			return cur, errPathInvalid
		}
		l := slices.Clone(cur.List)
		if len(rest) == 1 {
			if e.Index >= len(l) {
				l = append(l, v)
			} else {
				l[e.Index] = v
			}
			return attr.Value{Kind: attr.L, List: l}, nil
		}
		if e.Index >= len(l) {
			return cur, errPathInvalid
		}
		nv, err := setIn(l[e.Index], rest[1:], v)
		if err != nil {
			return cur, err
		}
		l[e.Index] = nv
		return attr.Value{Kind: attr.L, List: l}, nil
	}
	if cur.Kind != attr.M {
		return cur, errPathInvalid
	}
	m := make(map[string]attr.Value, len(cur.Map)+1)
	for k, x := range cur.Map {
		m[k] = x
	}
	if len(rest) == 1 {
		m[e.Name] = v
		return attr.Value{Kind: attr.M, Map: m}, nil
	}
	child, ok := m[e.Name]
	if !ok {
		return cur, errPathInvalid
	}
	nv, err := setIn(child, rest[1:], v)
	if err != nil {
		return cur, err
	}
	m[e.Name] = nv
	return attr.Value{Kind: attr.M, Map: m}, nil
}

// removePath deletes the value at p; a missing value is not an error.
func removePath(it attr.Item, p Path) error {
	name := p[0].Name
	if len(p) == 1 {
		delete(it, name)
		return nil
	}
	cur, ok := it[name]
	if !ok {
		return nil
	}
	nv, err := removeIn(cur, p[1:])
	if err != nil {
		return err
	}
	it[name] = nv
	return nil
}

func removeIn(cur attr.Value, rest Path) (attr.Value, error) {
	e := rest[0]
	if e.IsIndex {
		if cur.Kind != attr.L {
			return cur, errPathInvalid
		}
		if e.Index >= len(cur.List) {
			return cur, nil
		}
		l := slices.Clone(cur.List)
		if len(rest) == 1 {
			l = slices.Delete(l, e.Index, e.Index+1)
			return attr.Value{Kind: attr.L, List: l}, nil
		}
		nv, err := removeIn(l[e.Index], rest[1:])
		if err != nil {
			return cur, err
		}
		l[e.Index] = nv
		return attr.Value{Kind: attr.L, List: l}, nil
	}
	if cur.Kind != attr.M {
		return cur, errPathInvalid
	}
	child, ok := cur.Map[e.Name]
	if !ok {
		return cur, nil
	}
	m := make(map[string]attr.Value, len(cur.Map))
	for k, x := range cur.Map {
		m[k] = x
	}
	if len(rest) == 1 {
		delete(m, e.Name)
		return attr.Value{Kind: attr.M, Map: m}, nil
	}
	nv, err := removeIn(child, rest[1:])
	if err != nil {
		return cur, err
	}
	m[e.Name] = nv
	return attr.Value{Kind: attr.M, Map: m}, nil
}
