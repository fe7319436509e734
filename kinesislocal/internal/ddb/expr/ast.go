// Package expr parses and evaluates DynamoDB expressions: condition (also filter and key
// condition), update and projection expressions, with #name and :value placeholders, and builds
// the same trees from the legacy Expected / AttributeUpdates parameters. Parsing is pure; trees are
// immutable and safe to share.
package expr

import (
	"strconv"
	"strings"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

// Error is an expression problem; the engine reports it as a ValidationException with Msg.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// PathElem is one step of a document path: a map key, or a list index when IsIndex.
type PathElem struct {
	Name    string
	Index   int
	IsIndex bool
}

// Path is a document path such as a.b[0].c. Path[0] is always a name.
type Path []PathElem

// String renders the path as DynamoDB prints it in messages: [a, b, [0]].
func (p Path) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range p {
		if i > 0 {
			b.WriteString(", ")
		}
		if e.IsIndex {
			b.WriteString("[" + strconv.Itoa(e.Index) + "]")
		} else {
			b.WriteString(e.Name)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// TopName is the top-level attribute name of the path.
func (p Path) TopName() string { return p[0].Name }

// Operand is a value-producing node: *PathOp, *ValueOp, *SizeOp, *IfNotExistsOp, *ListAppendOp
// or *ArithOp.
type Operand interface{ operand() }

// PathOp reads the attribute at Path.
type PathOp struct{ Path Path }

// ValueOp is a literal from ExpressionAttributeValues (or a legacy parameter).
type ValueOp struct {
	Name string
	V    attr.Value
}

// SizeOp is size(path).
type SizeOp struct{ Path Path }

// IfNotExistsOp is if_not_exists(path, operand).
type IfNotExistsOp struct {
	Path    Path
	Default Operand
}

// ListAppendOp is list_append(a, b).
type ListAppendOp struct{ A, B Operand }

// ArithOp is a + b or a - b.
type ArithOp struct {
	Sub  bool
	A, B Operand
}

func (*PathOp) operand()        {}
func (*ValueOp) operand()       {}
func (*SizeOp) operand()        {}
func (*IfNotExistsOp) operand() {}
func (*ListAppendOp) operand()  {}
func (*ArithOp) operand()       {}

// Cond is a boolean node: *AndCond, *OrCond, *NotCond, *CompareCond, *BetweenCond, *InCond or
// *FuncCond.
type Cond interface{ cond() }

// AndCond is L AND R.
type AndCond struct{ L, R Cond }

// OrCond is L OR R.
type OrCond struct{ L, R Cond }

// NotCond is NOT C.
type NotCond struct{ C Cond }

// CompareCond is L op R with op one of = <> < <= > >=.
type CompareCond struct {
	Op   string
	L, R Operand
}

// BetweenCond is V BETWEEN Lo AND Hi.
type BetweenCond struct{ V, Lo, Hi Operand }

// InCond is V IN (List...).
type InCond struct {
	V    Operand
	List []Operand
}

// FuncCond is attribute_exists, attribute_not_exists, attribute_type, begins_with or contains.
// Arg is nil for the one-argument functions.
type FuncCond struct {
	Name string
	Path Operand // the first argument (a *PathOp, or any operand for contains/begins_with)
	Arg  Operand
}

func (*AndCond) cond()     {}
func (*OrCond) cond()      {}
func (*NotCond) cond()     {}
func (*CompareCond) cond() {}
func (*BetweenCond) cond() {}
func (*InCond) cond()      {}
func (*FuncCond) cond()    {}

// Update is a parsed update expression: its actions by clause, in source order.
type Update struct {
	Set    []SetAction
	Remove []Path
	Add    []AddDelete
	Delete []AddDelete
}

// SetAction is SET path = value.
type SetAction struct {
	Path  Path
	Value Operand
}

// AddDelete is ADD path value or DELETE path value.
type AddDelete struct {
	Path  Path
	Value attr.Value
}

// Paths lists every path the update writes, for UPDATED_OLD / UPDATED_NEW.
func (u *Update) Paths() []Path {
	var ps []Path
	for _, a := range u.Set {
		ps = append(ps, a.Path)
	}
	ps = append(ps, u.Remove...)
	for _, a := range u.Add {
		ps = append(ps, a.Path)
	}
	for _, a := range u.Delete {
		ps = append(ps, a.Path)
	}
	return ps
}
