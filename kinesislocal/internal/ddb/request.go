package ddb

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/expr"
)

// exprParams are the placeholder maps shared by every expression-taking request.
type exprParams struct {
	ExpressionAttributeNames  map[string]string     `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues map[string]attr.Value `json:"ExpressionAttributeValues"`
}

// params validates the placeholder maps. anyExpr tells whether the request has an expression.
func (x exprParams) params(anyExpr bool) (*expr.Params, error) {
	if x.ExpressionAttributeNames != nil {
		if len(x.ExpressionAttributeNames) == 0 {
			return nil, validation("ExpressionAttributeNames must not be empty")
		}
		if !anyExpr {
			return nil, validation("ExpressionAttributeNames can only be specified when using expressions")
		}
		for k := range x.ExpressionAttributeNames {
			if !strings.HasPrefix(k, "#") || len(k) < 2 {
				return nil, validation("ExpressionAttributeNames contains invalid key: Syntax error; key: %q", k)
			}
		}
	}
	if x.ExpressionAttributeValues != nil {
		if len(x.ExpressionAttributeValues) == 0 {
			return nil, validation("ExpressionAttributeValues must not be empty")
		}
		if !anyExpr {
			return nil, validation("ExpressionAttributeValues can only be specified when using expressions")
		}
		for k := range x.ExpressionAttributeValues {
			if !strings.HasPrefix(k, ":") || len(k) < 2 {
				return nil, validation("ExpressionAttributeValues contains invalid key: Syntax error; key: %q", k)
			}
		}
	}
	return &expr.Params{Names: x.ExpressionAttributeNames, Values: x.ExpressionAttributeValues}, nil
}

// mixed rejects requests that combine legacy and expression parameters.
func mixed(legacy, expression []string) error {
	if len(legacy) > 0 && len(expression) > 0 {
		return validation("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {%s} Expression parameters: {%s}",
			strings.Join(legacy, ", "), strings.Join(expression, ", "))
	}
	return nil
}

func names(pairs ...any) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		present := false
		switch v := pairs[i+1].(type) {
		case *string:
			present = v != nil
		case bool:
			present = v
		}
		if present {
			out = append(out, pairs[i].(string))
		}
	}
	return out
}

// condition builds the request's condition from ConditionExpression or legacy Expected.
func condition(ce *string, expected map[string]expr.Expected, condOp string, p *expr.Params) (expr.Cond, error) {
	if ce != nil {
		c, err := expr.ParseCondition("ConditionExpression", *ce, p)
		return c, exprErr(err)
	}
	if condOp != "" && expected == nil {
		return nil, validation("ConditionalOperator can only be used when Expected or KeyConditions or QueryFilter or ScanFilter is present")
	}
	if expected != nil {
		c, err := expr.FromExpected(expected, condOp)
		return c, exprErr(err)
	}
	return nil, nil
}

// projection builds the paths from ProjectionExpression or legacy AttributesToGet (nil: all).
func projection(pe *string, attrsToGet []string, p *expr.Params) ([]expr.Path, error) {
	if pe != nil {
		ps, err := expr.ParseProjection(*pe, p)
		return ps, exprErr(err)
	}
	if attrsToGet != nil {
		if len(attrsToGet) == 0 {
			return nil, validation("1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		if hasDupStrings(attrsToGet) {
			return nil, validation("One or more parameter values were invalid: Duplicate value in attribute name: %s", attrsToGet[0])
		}
		ps := make([]expr.Path, len(attrsToGet))
		for i, a := range attrsToGet {
			ps[i] = expr.Path{{Name: a}}
		}
		return ps, nil
	}
	return nil, nil
}

func hasDupStrings(s []string) bool {
	seen := map[string]bool{}
	for _, x := range s {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

func checkReturnValues(rv string, allowed ...string) error {
	if rv == "" || slices.Contains(allowed, rv) {
		return nil
	}
	return validation("Return values set to invalid value")
}

func checkReturnOnFailure(rv string) error {
	if rv == "" || rv == "NONE" || rv == "ALL_OLD" {
		return nil
	}
	return validation("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", rv)
}

// capacity renders ConsumedCapacity when asked for (TOTAL or INDEXES).
func capacity(mode, table string, units float64) map[string]any {
	if mode != "TOTAL" && mode != "INDEXES" {
		return nil
	}
	c := map[string]any{"TableName": table, "CapacityUnits": units}
	if mode == "INDEXES" {
		c["Table"] = map[string]any{"CapacityUnits": units}
	}
	return c
}

func writeUnits(size int) float64 { return float64(max(1, (size+1023)/1024)) }

func readUnits(size int, consistent bool) float64 {
	u := float64(max(1, (size+4095)/4096))
	if !consistent {
		u /= 2
	}
	return u
}

// respWriter builds a JSON object response without re-validating item JSON (encoding/json
// compacts the output of every MarshalJSON, which dominates small responses).
type respWriter struct{ b []byte }

func (w *respWriter) key(name string) {
	if len(w.b) == 0 {
		w.b = append(w.b, '{')
	} else {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

// item adds an item member.
func (w *respWriter) item(name string, it attr.Item) {
	w.key(name)
	w.b = attr.AppendItemJSON(w.b, it)
}

// items adds an array of items.
func (w *respWriter) items(name string, its []attr.Item) {
	w.key(name)
	w.b = append(w.b, '[')
	for i, it := range its {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = attr.AppendItemJSON(w.b, it)
	}
	w.b = append(w.b, ']')
}

// int adds an integer member.
func (w *respWriter) int(name string, n int) {
	w.key(name)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
}

// value adds any other member through encoding/json.
func (w *respWriter) value(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return internal(err)
	}
	w.key(name)
	w.b = append(w.b, b...)
	return nil
}

func (w *respWriter) bytes() []byte {
	if len(w.b) == 0 {
		return []byte("{}")
	}
	return append(w.b, '}')
}
