package attr

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCanonicalNumber(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"1", "1", ""}, {"1.0", "1", ""}, {"-0", "0", ""}, {"0.000", "0", ""}, {"+5", "5", ""},
		{"1e2", "100", ""}, {"1.50E-3", "0.0015", ""}, {".5", "0.5", ""}, {"5.", "5", ""},
		{"-00012.3400", "-12.34", ""}, {"1E+125", "1" + strings.Repeat("0", 125), ""},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678", ""},
		{"123456789012345678901234567890123456789", "", "38 significant digits"},
		{"1E126", "", "overflow"}, {"1E-131", "", "underflow"}, {"1E-130", "0." + strings.Repeat("0", 129) + "1", ""},
		{"", "", "cannot be converted"}, {"abc", "", "cannot be converted"}, {"1e", "", "cannot be converted"},
		{" 1", "", "cannot be converted"}, {"1..2", "", "cannot be converted"}, {"NaN", "", "cannot be converted"},
	}
	for _, tt := range tests {
		got, err := CanonicalNumber(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCompareAndAdd(t *testing.T) {
	cmp := []struct {
		a, b string
		want int
	}{
		{"1", "1.0", 0}, {"-1", "1", -1}, {"0.1", "0.09", 1}, {"-0.1", "-0.09", -1}, {"100", "99.999", 1},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345679", -1}, {"0", "-0.0001", 1},
	}
	for _, tt := range cmp {
		if got := CompareNumbers(tt.a, tt.b); got != tt.want {
			t.Errorf("cmp(%s,%s)=%d want %d", tt.a, tt.b, got, tt.want)
		}
	}
	add := []struct {
		a, b string
		sub  bool
		want string
	}{
		{"1", "1", false, "2"}, {"0.1", "0.2", false, "0.3"}, {"5", "7.5", true, "-2.5"}, {"1E20", "1", false, "100000000000000000001"},
		{"-3", "-3", true, "0"},
	}
	for _, tt := range add {
		if got, err := AddNumbers(tt.a, tt.b, tt.sub); err != nil || got != tt.want {
			t.Errorf("add(%s,%s,%v)=%s,%v want %s", tt.a, tt.b, tt.sub, got, err, tt.want)
		}
	}
}

func TestValueJSON(t *testing.T) {
	good := []struct{ in, out string }{
		{`{"S":"x"}`, `{"S":"x"}`}, {`{"N":"1.0"}`, `{"N":"1"}`}, {`{"B":"AAE="}`, `{"B":"AAE="}`},
		{`{"SS":["a","b"]}`, `{"SS":["a","b"]}`}, {`{"NS":["1","2.50"]}`, `{"NS":["1","2.5"]}`},
		{`{"M":{"b":{"NULL":true},"a":{"BOOL":false}}}`, `{"M":{"a":{"BOOL":false},"b":{"NULL":true}}}`},
		{`{"L":[{"S":"<&>"},{"L":[]}]}`, `{"L":[{"S":"\u003c\u0026\u003e"},{"L":[]}]}`},
	}
	for _, tt := range good {
		var v Value
		if err := json.Unmarshal([]byte(tt.in), &v); err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if b, _ := json.Marshal(v); string(b) != tt.out {
			t.Errorf("%s -> %s, want %s", tt.in, b, tt.out)
		}
	}
	bad := []struct {
		in         string
		validation bool // *Error (ValidationException) rather than a decoding error
	}{
		{`{}`, true}, {`{"S":"a","N":"1"}`, true}, {`{"SS":[]}`, true}, {`{"NS":["1","1.0"]}`, true},
		{`{"NULL":false}`, true}, {`{"N":"x"}`, true}, {`{"S":1}`, false}, {`{"B":"!!"}`, false}, {`[]`, false},
		{strings.Repeat(`{"L":[`, 40) + `{"S":"x"}` + strings.Repeat(`]}`, 40), true},
	}
	for _, tt := range bad {
		var v Value
		err := json.Unmarshal([]byte(tt.in), &v)
		if err == nil {
			t.Errorf("%s accepted", tt.in)
			continue
		}
		_, isV := err.(*Error)
		if isV != tt.validation {
			t.Errorf("%s: err %T %v, validation=%v", tt.in, err, err, isV)
		}
	}
}

func TestSizeAndEqual(t *testing.T) {
	it := Item{"ab": StrV("xyz"), "n": NumV("12345")}
	if got := it.Size(); got != 2+3+1+4 {
		t.Fatalf("size %d", got)
	}
	a := Value{Kind: SS, Set: []string{"a", "b"}}
	b := Value{Kind: SS, Set: []string{"b", "a"}}
	if !Equal(a, b) || Equal(a, StrV("a")) {
		t.Fatal("set equality")
	}
}
