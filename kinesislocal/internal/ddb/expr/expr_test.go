package expr

import (
	"strings"
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

func s(v string) attr.Value { return attr.StrV(v) }
func n(v string) attr.Value {
	c, err := attr.CanonicalNumber(v)
	if err != nil {
		panic(err)
	}
	return attr.NumV(c)
}

func testItem() attr.Item {
	return attr.Item{
		"leaseKey":     s("shardId-000"),
		"leaseOwner":   s("w1"),
		"leaseCounter": n("7"),
		"big":          n("99999999999999999999999999999999999999"),
		"tags":         {Kind: attr.SS, Set: []string{"a", "b"}},
		"nums":         {Kind: attr.NS, Set: []string{"1", "2"}},
		"lst":          {Kind: attr.L, List: []attr.Value{s("x"), n("2"), {Kind: attr.M, Map: map[string]attr.Value{"deep": s("y")}}}},
		"m":            {Kind: attr.M, Map: map[string]attr.Value{"a": n("1"), "b": {Kind: attr.M, Map: map[string]attr.Value{"c": s("z")}}}},
		"flag":         {Kind: attr.BOOL, Bool: true},
		"nul":          {Kind: attr.NULL, Bool: true},
	}
}

func params() *Params {
	return &Params{
		Names: map[string]string{"#o": "leaseOwner", "#c": "leaseCounter", "#k": "leaseKey"},
		Values: map[string]attr.Value{
			":w1": s("w1"), ":w2": s("w2"), ":seven": n("7.0"), ":one": n("1"), ":eight": n("8"),
			":sh": s("shard"), ":t": s("SS"), ":a": s("a"), ":big": n("99999999999999999999999999999999999998"),
			":l": {Kind: attr.L, List: []attr.Value{s("q")}}, ":ss": {Kind: attr.SS, Set: []string{"b", "c"}},
			":ns": {Kind: attr.NS, Set: []string{"5"}}, ":m": {Kind: attr.M, Map: map[string]attr.Value{}},
		},
	}
}

func TestCondition(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{"#o = :w1", true},
		{"#o = :w2", false},
		{"#o <> :w2", true},
		{"absent <> :w2", true},
		{"absent = :w2", false},
		{"#c = :seven", true}, // 7 == 7.0
		{"#c < :eight AND #c >= :seven", true},
		{"#c > :eight OR #o = :w1", true},
		{"NOT #o = :w1", false},
		{"NOT (#o = :w1 AND #c = :eight)", true},
		{"#c BETWEEN :one AND :eight", true},
		{"#c BETWEEN :one AND :seven", true},
		{"#o BETWEEN :one AND :eight", false}, // type mismatch
		{"#o IN (:w2, :w1)", true},
		{"#o IN (:w2)", false},
		{"attribute_exists(#o)", true},
		{"attribute_not_exists(#o)", false},
		{"attribute_not_exists(nothing)", true},
		{"attribute_exists(m.b.c)", true},
		{"attribute_exists(m.b.x)", false},
		{"attribute_exists(lst[2].deep)", true},
		{"attribute_exists(lst[3])", false},
		{"attribute_type(tags, :t)", true},
		{"attribute_type(#o, :t)", false},
		{"begins_with(#k, :sh)", true},
		{"begins_with(#o, :sh)", false},
		{"contains(tags, :a)", true},
		{"contains(#o, :w1)", true},
		{"contains(nums, :one)", true},
		{"size(tags) = :one", false},
		{"size(lst) > :one", true},
		{"size(#o) = :one", false},
		{"big > :big", true},
		{"#o < :w2", true},
		{"#o < :one", false}, // S vs N never orders
		{"(#o = :w1) AND ((#c = :seven))", true},
		{"#o = :w1 or #c = :one and #o = :w2", true}, // AND binds tighter; keywords case-insensitive
	}
	it := testItem()
	for _, tt := range tests {
		c, err := ParseCondition("ConditionExpression", tt.expr, params())
		if err != nil {
			t.Errorf("%q: %v", tt.expr, err)
			continue
		}
		if got := Eval(c, it); got != tt.want {
			t.Errorf("%q = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestConditionErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "The expression can not be empty"},
		{"#o = ", `Syntax error; token: "<EOF>"`},
		{"#o == :w1", `Syntax error; token: "="`},
		{"#x = :w1", "An expression attribute name used in the document path is not defined; attribute name: #x"},
		{"#o = :nope", "An expression attribute value used in expression is not defined; attribute value: :nope"},
		{"foo(#o)", "Invalid function name; function: foo"},
		{"attribute_exists(#o, #c)", "Incorrect number of operands"},
		{"attribute_exists(:w1)", "requires a document path"},
		{"attribute_type(#o, :w1)", "Invalid attribute type name found; type: w1"},
		{"if_not_exists(#o, :w1)", "not allowed to be used this way"},
		{"#c BETWEEN :eight AND :one", "BETWEEN operator requires upper bound"},
		{"status = :w1", "reserved keyword; reserved keyword: status"},
		{"#o = :w1 AND", `Syntax error; token: "<EOF>"`},
		{"(#o = :w1", `Syntax error`},
		{"#o = :w1 $", `Syntax error; token: "$"`},
		{"a.b[x] = :w1", `Syntax error`},
		{strings.Repeat("a", 5000) + " = :w1", "Expression size has exceeded"},
	}
	for _, tt := range tests {
		_, err := ParseCondition("ConditionExpression", tt.expr, params())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.expr, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "Invalid ConditionExpression: ") {
			t.Errorf("%q: message %q lacks the prefix", tt.expr, err)
		}
	}
}

func TestUnused(t *testing.T) {
	p := params()
	if _, err := ParseCondition("ConditionExpression", "#o = :w1", p); err != nil {
		t.Fatal(err)
	}
	err := p.CheckUnused()
	if err == nil || !strings.Contains(err.Error(), "Value provided in ExpressionAttributeNames unused in expressions: keys: {#c, #k}") {
		t.Fatalf("names: %v", err)
	}
	p = &Params{Values: map[string]attr.Value{":a": s("x"), ":b": s("y")}}
	if _, err := ParseCondition("ConditionExpression", "x = :a", p); err != nil {
		t.Fatal(err)
	}
	err = p.CheckUnused()
	if err == nil || err.Error() != "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}" {
		t.Fatalf("values: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	tests := []struct {
		expr  string
		check map[string]string // attribute -> JSON of the new value; "" = absent
	}{
		{"SET #o = :w2, #c = #c + :one", map[string]string{"leaseOwner": `{"S":"w2"}`, "leaseCounter": `{"N":"8"}`}},
		{"SET #c = #c - :eight", map[string]string{"leaseCounter": `{"N":"-1"}`}},
		{"SET big = big + :big", nil}, // 39 digits: error checked below
		{"SET x = if_not_exists(x, :one), #o = if_not_exists(#o, :w2)", map[string]string{"x": `{"N":"1"}`, "leaseOwner": `{"S":"w1"}`}},
		{"SET lst = list_append(lst, :l)", map[string]string{"lst": `{"L":[{"S":"x"},{"N":"2"},{"M":{"deep":{"S":"y"}}},{"S":"q"}]}`}},
		{"SET lst = list_append(:l, lst)", map[string]string{"lst": `{"L":[{"S":"q"},{"S":"x"},{"N":"2"},{"M":{"deep":{"S":"y"}}}]}`}},
		{"SET m.b.c = :w2, lst[0] = :a", map[string]string{"m": `{"M":{"a":{"N":"1"},"b":{"M":{"c":{"S":"w2"}}}}}`, "lst": `{"L":[{"S":"a"},{"N":"2"},{"M":{"deep":{"S":"y"}}}]}`}},
		{"SET lst[9] = :a", map[string]string{"lst": `{"L":[{"S":"x"},{"N":"2"},{"M":{"deep":{"S":"y"}}},{"S":"a"}]}`}},
		{"REMOVE #o, m.b, lst[0], lst[2]", map[string]string{"leaseOwner": "", "m": `{"M":{"a":{"N":"1"}}}`, "lst": `{"L":[{"N":"2"}]}`}},
		{"ADD #c :one, tags :ss, newn :seven, nums :ns", map[string]string{"leaseCounter": `{"N":"8"}`, "tags": `{"SS":["a","b","c"]}`, "newn": `{"N":"7"}`, "nums": `{"NS":["1","2","5"]}`}},
		{"DELETE tags :ss", map[string]string{"tags": `{"SS":["a"]}`}},
		{"set #o = :w2 remove m add #c :one delete tags :ss", map[string]string{"leaseOwner": `{"S":"w2"}`, "m": "", "leaseCounter": `{"N":"8"}`, "tags": `{"SS":["a"]}`}},
		{"SET #o = #c, #c = #o", map[string]string{"leaseOwner": `{"N":"7"}`, "leaseCounter": `{"S":"w1"}`}}, // swap: RHS sees old
	}
	for _, tt := range tests {
		p := params()
		u, err := ParseUpdate(tt.expr, p)
		if err != nil {
			t.Errorf("%q: %v", tt.expr, err)
			continue
		}
		old := testItem()
		got, err := u.Apply(old)
		if tt.check == nil {
			if err == nil {
				t.Errorf("%q: want an error", tt.expr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.expr, err)
			continue
		}
		for k, want := range tt.check {
			v, ok := got[k]
			if want == "" {
				if ok {
					t.Errorf("%q: %s still present", tt.expr, k)
				}
				continue
			}
			if b, _ := v.MarshalJSON(); !ok || string(b) != want {
				t.Errorf("%q: %s = %s, want %s", tt.expr, k, b, want)
			}
		}
		if !attr.Equal(attr.Value{Kind: attr.M, Map: old}, attr.Value{Kind: attr.M, Map: testItem()}) {
			t.Errorf("%q modified the old item", tt.expr)
		}
	}
}

func TestUpdateErrors(t *testing.T) {
	parseErrs := []struct{ expr, want string }{
		{"SET", `Syntax error; token: "<EOF>"`},
		{"SET #o = :w1 SET #c = :one", `The "SET" section can only be used once`},
		{"SET #o = :w1, #o = :w2", "Two document paths overlap"},
		{"SET m.b = :w1 REMOVE m", "Two document paths overlap"},
		{"SET lst[0] = :w1 REMOVE lst.x", "Two document paths conflict"},
		{"ADD #o :w1", "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"},
		{"DELETE tags :w1", "operator: DELETE"},
		{"SET #o = attribute_exists(#o)", "not allowed in an update expression"},
		{"SET #o = list_append(:w1, lst)", "operand type: STRING"},
		{"UPSERT #o = :w1", "Syntax error"},
		{"SET #o = :w1 + :w2 + :w1", "Syntax error"},
	}
	for _, tt := range parseErrs {
		_, err := ParseUpdate(tt.expr, params())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.expr, err, tt.want)
		}
	}
	applyErrs := []struct{ expr, want string }{
		{"SET #o = #o + :one", "incorrect data type"},
		{"SET x = nothing", "refers to an attribute that does not exist"},
		{"SET nothing.x = :one", "document path provided in the update expression is invalid"},
		{"SET #o[0] = :one", "document path provided in the update expression is invalid"},
		{"ADD #o :one", "incorrect data type"},
		{"SET lst = list_append(#o, :l)", "incorrect data type"},
	}
	for _, tt := range applyErrs {
		u, err := ParseUpdate(tt.expr, params())
		if err != nil {
			t.Errorf("%q: parse: %v", tt.expr, err)
			continue
		}
		_, err = u.Apply(testItem())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.expr, err, tt.want)
		}
	}
}

func TestProjection(t *testing.T) {
	ps, err := ParseProjection("#o, m.b.c, lst[2].deep, lst[0], nothing", params())
	if err != nil {
		t.Fatal(err)
	}
	got := Project(testItem(), ps)
	b, _ := got.MarshalJSON()
	want := `{"leaseOwner":{"S":"w1"},"lst":{"L":[{"S":"x"},{"M":{"deep":{"S":"y"}}}]},"m":{"M":{"b":{"M":{"c":{"S":"z"}}}}}}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
	if _, err := ParseProjection("a, a.b", nil); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("overlap: %v", err)
	}
}

func TestLegacy(t *testing.T) {
	f, tr := false, true
	it := testItem()
	w1 := s("w1")
	tests := []struct {
		exp  map[string]Expected
		op   string
		want bool
		err  string
	}{
		{exp: map[string]Expected{"leaseOwner": {Value: &w1}}, want: true},
		{exp: map[string]Expected{"leaseOwner": {Value: &w1, Exists: &tr}}, want: true},
		{exp: map[string]Expected{"leaseKey": {Exists: &f}}, want: false},
		{exp: map[string]Expected{"nothing": {Exists: &f}}, want: true},
		{exp: map[string]Expected{"leaseCounter": {ComparisonOperator: "EQ", AttributeValueList: []attr.Value{n("7")}}}, want: true},
		{exp: map[string]Expected{"leaseCounter": {ComparisonOperator: "GT", AttributeValueList: []attr.Value{n("7")}}, "leaseOwner": {Value: &w1}}, op: "OR", want: true},
		{exp: map[string]Expected{"leaseCounter": {ComparisonOperator: "GT", AttributeValueList: []attr.Value{n("7")}}, "leaseOwner": {Value: &w1}}, want: false},
		{exp: map[string]Expected{"leaseOwner": {ComparisonOperator: "NOT_NULL"}}, want: true},
		{exp: map[string]Expected{"leaseOwner": {ComparisonOperator: "BEGINS_WITH", AttributeValueList: []attr.Value{s("w")}}}, want: true},
		{exp: map[string]Expected{"leaseOwner": {Exists: &tr}}, err: "Value must be provided"},
		{exp: map[string]Expected{"leaseOwner": {Exists: &f, Value: &w1}}, err: "Value cannot be used when Exists is false"},
		{exp: map[string]Expected{"leaseOwner": {ComparisonOperator: "EQ"}}, err: "Invalid number of argument(s) for the EQ ComparisonOperator"},
		{exp: map[string]Expected{"leaseOwner": {ComparisonOperator: "XX", AttributeValueList: []attr.Value{w1}}}, err: "comparisonOperator"},
	}
	for i, tt := range tests {
		c, err := FromExpected(tt.exp, tt.op)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%d: err %v, want %q", i, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: %v", i, err)
			continue
		}
		if got := Eval(c, it); got != tt.want {
			t.Errorf("%d: got %v want %v", i, got, tt.want)
		}
	}
	one := n("1")
	u, err := FromAttributeUpdates(map[string]AttributeUpdate{
		"leaseCounter": {Action: "ADD", Value: &one},
		"leaseOwner":   {Value: &w1},
		"m":            {Action: "DELETE"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := u.Apply(it)
	if err != nil {
		t.Fatal(err)
	}
	if got["leaseCounter"].Str != "8" || got["leaseOwner"].Str != "w1" {
		t.Fatalf("got %v", got)
	}
	if _, ok := got["m"]; ok {
		t.Fatal("m not removed")
	}
	if _, err := FromAttributeUpdates(map[string]AttributeUpdate{"x": {Action: "PUT"}}); err == nil {
		t.Fatal("PUT without value accepted")
	}
}
