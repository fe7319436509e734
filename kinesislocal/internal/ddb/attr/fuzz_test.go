package attr

import (
	"encoding/json"
	"testing"
)

// FuzzValueJSON decodes arbitrary AttributeValue JSON: it must never panic, and whatever decodes
// must re-encode to JSON that decodes to an equal value.
func FuzzValueJSON(f *testing.F) {
	for _, s := range []string{`{"S":"x"}`, `{"N":"-1.50e3"}`, `{"B":"AAE="}`, `{"SS":["a","b"]}`, `{"NS":["1","2"]}`,
		`{"BS":["AA=="]}`, `{"M":{"a":{"L":[{"NULL":true},{"BOOL":false}]}}}`, `{}`, `{"S":"a","N":"1"}`, `{"N":"1e-131"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v Value
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %q: %v", s, err)
		}
		var w Value
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatalf("re-decode %s (from %q): %v", b, s, err)
		}
		if !Equal(v, w) {
			t.Fatalf("round trip of %q changed the value: %s", s, b)
		}
	})
}
