// Package attr is DynamoDB's AttributeValue: its JSON wire form, canonical numbers, ordering,
// equality and item sizes. Values are immutable once built; share them freely.
package attr

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Kind is the type of a Value, named as on the wire.
type Kind uint8

// The DynamoDB data types.
const (
	Invalid Kind = iota
	S
	N
	B
	SS
	NS
	BS
	M
	L
	NULL
	BOOL
)

var kindNames = [...]string{"", "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}

// String returns the wire name of k ("S", "NS", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

// KindOf parses a wire type name; Invalid if unknown.
func KindOf(name string) Kind {
	for i, n := range kindNames {
		if i > 0 && n == name {
			return Kind(i)
		}
	}
	return Invalid
}

// Value is one AttributeValue. Str holds S, N (canonical text) and B (raw bytes); Set holds the
// members of SS, NS (canonical) and BS (raw); Bool holds BOOL (and is true for NULL).
type Value struct {
	Kind Kind
	Str  string
	Set  []string
	List []Value
	Map  map[string]Value
	Bool bool
}

// Item is a DynamoDB item: attribute name to value.
type Item map[string]Value

// Error is a validation problem with an attribute value; its message is DynamoDB's.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

var (
	errNotNumber = &Error{"A value provided cannot be converted into a number"}
	errPrecision = &Error{"Attempting to store more than 38 significant digits in a Number"}
	errOverflow  = &Error{"Number overflow. Attempting to store a number with magnitude larger than supported range"}
	errUnderflow = &Error{"Number underflow. Attempting to store a number with magnitude smaller than supported range"}
)

// StrV returns an S value.
func StrV(s string) Value { return Value{Kind: S, Str: s} }

// NumV returns an N value from canonical text.
func NumV(n string) Value { return Value{Kind: N, Str: n} }

// MaxDepth is DynamoDB's nesting limit for M and L values.
const MaxDepth = 32

type wire struct {
	S    *string          `json:"S"`
	N    *string          `json:"N"`
	B    *string          `json:"B"`
	SS   []string         `json:"SS"`
	NS   []string         `json:"NS"`
	BS   []string         `json:"BS"`
	M    map[string]Value `json:"M"`
	L    []Value          `json:"L"`
	NULL *bool            `json:"NULL"`
	BOOL *bool            `json:"BOOL"`
}

// UnmarshalJSON decodes and validates an AttributeValue. Semantic problems are *Error.
func (v *Value) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return &Error{"Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"}
	}
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	n := 0
	var out Value
	if w.S != nil {
		n++
		out = Value{Kind: S, Str: *w.S}
	}
	if w.N != nil {
		n++
		c, err := CanonicalNumber(*w.N)
		if err != nil {
			return err
		}
		out = Value{Kind: N, Str: c}
	}
	if w.B != nil {
		n++
		raw, err := base64.StdEncoding.DecodeString(*w.B)
		if err != nil {
			return errors.New("base64 decoding of B failed")
		}
		out = Value{Kind: B, Str: string(raw)}
	}
	if w.SS != nil {
		n++
		if len(w.SS) == 0 {
			return &Error{"One or more parameter values were invalid: An string set  may not be empty"}
		}
		if hasDup(w.SS) {
			return &Error{"One or more parameter values were invalid: Input collection " + listText(w.SS) + " contains duplicates."}
		}
		out = Value{Kind: SS, Set: w.SS}
	}
	if w.NS != nil {
		n++
		if len(w.NS) == 0 {
			return &Error{"One or more parameter values were invalid: An number set  may not be empty"}
		}
		set := make([]string, len(w.NS))
		for i, s := range w.NS {
			c, err := CanonicalNumber(s)
			if err != nil {
				return err
			}
			set[i] = c
		}
		if hasDup(set) {
			return &Error{"One or more parameter values were invalid: Input collection " + listText(w.NS) + " contains duplicates."}
		}
		out = Value{Kind: NS, Set: set}
	}
	if w.BS != nil {
		n++
		if len(w.BS) == 0 {
			return &Error{"One or more parameter values were invalid: Binary sets should not be empty"}
		}
		set := make([]string, len(w.BS))
		for i, s := range w.BS {
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return errors.New("base64 decoding of BS failed")
			}
			set[i] = string(raw)
		}
		if hasDup(set) {
			return &Error{"One or more parameter values were invalid: Input collection contains duplicates."}
		}
		out = Value{Kind: BS, Set: set}
	}
	if w.M != nil {
		n++
		out = Value{Kind: M, Map: w.M}
	}
	if w.L != nil {
		n++
		out = Value{Kind: L, List: w.L}
	}
	if w.NULL != nil {
		n++
		if !*w.NULL {
			return &Error{"One or more parameter values were invalid: Null attribute value types must have the value of true"}
		}
		out = Value{Kind: NULL, Bool: true}
	}
	if w.BOOL != nil {
		n++
		out = Value{Kind: BOOL, Bool: *w.BOOL}
	}
	switch {
	case n == 0:
		return &Error{"Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"}
	case n > 1:
		return &Error{"Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"}
	}
	if out.depth() > MaxDepth {
		return &Error{"Nesting Levels have exceeded supported limits"}
	}
	*v = out
	return nil
}

func (v Value) depth() int {
	d := 0
	switch v.Kind {
	case M:
		for _, e := range v.Map {
			d = max(d, e.depth())
		}
		return d + 1
	case L:
		for _, e := range v.List {
			d = max(d, e.depth())
		}
		return d + 1
	}
	return 0
}

func hasDup(s []string) bool {
	if len(s) < 2 {
		return false
	}
	seen := make(map[string]struct{}, len(s))
	for _, e := range s {
		if _, ok := seen[e]; ok {
			return true
		}
		seen[e] = struct{}{}
	}
	return false
}

func listText(s []string) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e)
	}
	b.WriteByte(']')
	return b.String()
}

// MarshalJSON encodes v in the wire form.
func (v Value) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil), nil }

// AppendJSON appends the wire form of v to b.
func (v Value) AppendJSON(b []byte) []byte {
	b = append(b, '{', '"')
	b = append(b, v.Kind.String()...)
	b = append(b, '"', ':')
	switch v.Kind {
	case S, N:
		b = appendString(b, v.Str)
	case B:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, []byte(v.Str))
		b = append(b, '"')
	case SS, NS, BS:
		b = append(b, '[')
		for i, s := range v.Set {
			if i > 0 {
				b = append(b, ',')
			}
			if v.Kind == BS {
				b = append(b, '"')
				b = base64.StdEncoding.AppendEncode(b, []byte(s))
				b = append(b, '"')
			} else {
				b = appendString(b, s)
			}
		}
		b = append(b, ']')
	case M:
		b = AppendItemJSON(b, Item(v.Map))
	case L:
		b = append(b, '[')
		for i, e := range v.List {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.AppendJSON(b)
		}
		b = append(b, ']')
	case NULL, BOOL:
		b = strconv.AppendBool(b, v.Bool)
	}
	return append(b, '}')
}

// AppendItemJSON appends an item (a JSON object of AttributeValues) with sorted keys.
func AppendItemJSON(b []byte, it Item) []byte {
	keys := make([]string, 0, len(it))
	for k := range it {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = it[k].AppendJSON(b)
	}
	return append(b, '}')
}

// MarshalJSON encodes the item as a JSON object.
func (it Item) MarshalJSON() ([]byte, error) { return AppendItemJSON(nil, it), nil }

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// Equal reports whether a and b are the same DynamoDB value (sets compare unordered, numbers
// numerically).
func Equal(a, b Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case S, B:
		return a.Str == b.Str
	case N:
		return a.Str == b.Str || CompareNumbers(a.Str, b.Str) == 0
	case SS, NS, BS:
		if len(a.Set) != len(b.Set) {
			return false
		}
		in := make(map[string]struct{}, len(a.Set))
		for _, s := range a.Set {
			in[s] = struct{}{}
		}
		for _, s := range b.Set {
			if _, ok := in[s]; !ok {
				return false
			}
		}
		return true
	case L:
		if len(a.List) != len(b.List) {
			return false
		}
		for i := range a.List {
			if !Equal(a.List[i], b.List[i]) {
				return false
			}
		}
		return true
	case M:
		if len(a.Map) != len(b.Map) {
			return false
		}
		for k, av := range a.Map {
			bv, ok := b.Map[k]
			if !ok || !Equal(av, bv) {
				return false
			}
		}
		return true
	case NULL, BOOL:
		return a.Bool == b.Bool
	}
	return false
}

// Compare orders two scalar values of the same kind (S by UTF-8 bytes, N numerically, B by
// bytes). ok is false when the kinds differ or are not S, N or B.
func Compare(a, b Value) (c int, ok bool) {
	if a.Kind != b.Kind {
		return 0, false
	}
	switch a.Kind {
	case S, B:
		switch {
		case a.Str < b.Str:
			return -1, true
		case a.Str > b.Str:
			return 1, true
		}
		return 0, true
	case N:
		return CompareNumbers(a.Str, b.Str), true
	}
	return 0, false
}

// Size is DynamoDB's storage size of the value in bytes.
func (v Value) Size() int {
	switch v.Kind {
	case S, B:
		return len(v.Str)
	case N:
		return numberSize(v.Str)
	case SS, BS:
		n := 0
		for _, s := range v.Set {
			n += len(s)
		}
		return n
	case NS:
		n := 0
		for _, s := range v.Set {
			n += numberSize(s)
		}
		return n
	case M:
		n := 3
		for k, e := range v.Map {
			n += len(k) + e.Size() + 1
		}
		return n
	case L:
		n := 3
		for _, e := range v.List {
			n += e.Size() + 1
		}
		return n
	case NULL, BOOL:
		return 1
	}
	return 0
}

// Size is the item's DynamoDB size: attribute names plus values.
func (it Item) Size() int {
	n := 0
	for k, v := range it {
		n += len(k) + v.Size()
	}
	return n
}

// Clone returns a shallow copy of the item (values are immutable and shared).
func (it Item) Clone() Item {
	c := make(Item, len(it))
	for k, v := range it {
		c[k] = v
	}
	return c
}
