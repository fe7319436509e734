package expr

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

// Expected is one entry of the legacy Expected parameter (also the shape of a legacy
// KeyConditions / QueryFilter / ScanFilter entry, which use only the last two fields).
type Expected struct {
	Value              *attr.Value  `json:"Value"`
	Exists             *bool        `json:"Exists"`
	ComparisonOperator string       `json:"ComparisonOperator"`
	AttributeValueList []attr.Value `json:"AttributeValueList"`
}

// AttributeUpdate is one entry of the legacy AttributeUpdates parameter.
type AttributeUpdate struct {
	Action string      `json:"Action"`
	Value  *attr.Value `json:"Value"`
}

func invalid(format string, args ...any) *Error {
	return &Error{"One or more parameter values were invalid: " + fmt.Sprintf(format, args...)}
}

// FromExpected builds the condition equivalent to a legacy Expected (or filter) map, combined
// with op ("AND" default, or "OR").
func FromExpected(exp map[string]Expected, op string) (Cond, error) {
	op = strings.ToUpper(op)
	if op != "" && op != "AND" && op != "OR" {
		return nil, &Error{"1 validation error detected: Value '" + op + "' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [AND, OR]"}
	}
	names := make([]string, 0, len(exp))
	for k := range exp {
		names = append(names, k)
	}
	slices.Sort(names)
	var out Cond
	for _, name := range names {
		c, err := expectedCond(name, exp[name])
		if err != nil {
			return nil, err
		}
		switch {
		case out == nil:
			out = c
		case op == "OR":
			out = &OrCond{out, c}
		default:
			out = &AndCond{out, c}
		}
	}
	return out, nil
}

func expectedCond(name string, e Expected) (Cond, error) {
	path := &PathOp{Path: Path{{Name: name}}}
	if e.ComparisonOperator == "" {
		if e.AttributeValueList != nil {
			return nil, invalid("AttributeValueList can only be used with a ComparisonOperator for Attribute: %s", name)
		}
		exists := e.Exists == nil || *e.Exists
		switch {
		case exists && e.Value == nil:
			return nil, invalid("Value must be provided when Exists is true for Attribute: %s", name)
		case !exists && e.Value != nil:
			return nil, invalid("Value cannot be used when Exists is false for Attribute: %s", name)
		case !exists:
			return &FuncCond{Name: "attribute_not_exists", Path: path}, nil
		}
		return &CompareCond{Op: "=", L: path, R: &ValueOp{V: *e.Value}}, nil
	}
	if e.Value != nil {
		return nil, invalid("Value and ComparisonOperator cannot be used together for Attribute: %s", name)
	}
	if e.Exists != nil {
		return nil, invalid("Exists and ComparisonOperator cannot be used together for Attribute: %s", name)
	}
	return Comparison(name, e.ComparisonOperator, e.AttributeValueList)
}

// Comparison builds the condition of a legacy ComparisonOperator on attribute name.
func Comparison(name, op string, args []attr.Value) (Cond, error) {
	path := &PathOp{Path: Path{{Name: name}}}
	want := func(n int) error {
		if len(args) != n {
			return invalid("Invalid number of argument(s) for the %s ComparisonOperator", op)
		}
		return nil
	}
	scalar := func() error {
		for _, a := range args {
			if a.Kind != attr.S && a.Kind != attr.N && a.Kind != attr.B {
				return invalid("ComparisonOperator %s is not valid for %s AttributeValue type", op, a.Kind)
			}
		}
		return nil
	}
	val := func(i int) Operand { return &ValueOp{V: args[i]} }
	switch op {
	case "EQ", "NE":
		if err := want(1); err != nil {
			return nil, err
		}
		sym := map[string]string{"EQ": "=", "NE": "<>"}[op]
		return &CompareCond{Op: sym, L: path, R: val(0)}, nil
	case "LE", "LT", "GE", "GT":
		if err := want(1); err != nil {
			return nil, err
		}
		if err := scalar(); err != nil {
			return nil, err
		}
		sym := map[string]string{"LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}[op]
		return &CompareCond{Op: sym, L: path, R: val(0)}, nil
	case "NOT_NULL", "NULL":
		if err := want(0); err != nil {
			return nil, err
		}
		fn := map[string]string{"NOT_NULL": "attribute_exists", "NULL": "attribute_not_exists"}[op]
		return &FuncCond{Name: fn, Path: path}, nil
	case "CONTAINS", "NOT_CONTAINS", "BEGINS_WITH":
		if err := want(1); err != nil {
			return nil, err
		}
		if err := scalar(); err != nil {
			return nil, err
		}
		if op == "BEGINS_WITH" {
			if args[0].Kind == attr.N {
				return nil, invalid("ComparisonOperator %s is not valid for N AttributeValue type", op)
			}
			return &FuncCond{Name: "begins_with", Path: path, Arg: val(0)}, nil
		}
		c := &FuncCond{Name: "contains", Path: path, Arg: val(0)}
		if op == "NOT_CONTAINS" {
			return &AndCond{&FuncCond{Name: "attribute_exists", Path: path}, &NotCond{c}}, nil
		}
		return c, nil
	case "IN":
		if len(args) == 0 {
			return nil, invalid("Invalid number of argument(s) for the %s ComparisonOperator", op)
		}
		list := make([]Operand, len(args))
		for i := range args {
			list[i] = val(i)
		}
		return &InCond{V: path, List: list}, nil
	case "BETWEEN":
		if err := want(2); err != nil {
			return nil, err
		}
		if err := scalar(); err != nil {
			return nil, err
		}
		if args[0].Kind != args[1].Kind {
			return nil, invalid("AttributeValues inside AttributeValueList must be of same type")
		}
		if c, _ := attr.Compare(args[0], args[1]); c > 0 {
			return nil, invalid("The BETWEEN condition was provided a range where the lower bound is greater than the upper bound")
		}
		return &BetweenCond{V: path, Lo: val(0), Hi: val(1)}, nil
	}
	return nil, &Error{"1 validation error detected: Value '" + op + "' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"}
}

// FromAttributeUpdates builds the update equivalent to a legacy AttributeUpdates map.
func FromAttributeUpdates(upd map[string]AttributeUpdate) (*Update, error) {
	names := make([]string, 0, len(upd))
	for k := range upd {
		names = append(names, k)
	}
	slices.Sort(names)
	u := &Update{}
	for _, name := range names {
		a := upd[name]
		p := Path{{Name: name}}
		action := a.Action
		if action == "" {
			action = "PUT"
		}
		if a.Value == nil && action != "DELETE" {
			return nil, invalid("Only DELETE action is allowed when no attribute value is specified")
		}
		switch action {
		case "PUT":
			u.Set = append(u.Set, SetAction{Path: p, Value: &ValueOp{V: *a.Value}})
		case "DELETE":
			if a.Value == nil {
				u.Remove = append(u.Remove, p)
				continue
			}
			switch a.Value.Kind {
			case attr.SS, attr.NS, attr.BS:
			default:
				return nil, invalid("DELETE action with value is not supported for the type %s", a.Value.Kind)
			}
			u.Delete = append(u.Delete, AddDelete{Path: p, Value: *a.Value})
		case "ADD":
			switch a.Value.Kind {
			case attr.N, attr.SS, attr.NS, attr.BS, attr.L:
			default:
				return nil, invalid("ADD action is not supported for the type %s", a.Value.Kind)
			}
			u.Add = append(u.Add, AddDelete{Path: p, Value: *a.Value})
		default:
			return nil, &Error{"1 validation error detected: Value '" + action + "' at 'attributeUpdates." + name + ".member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"}
		}
	}
	return u, nil
}
