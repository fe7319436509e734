package aggregate

import (
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestHashKeyKnownValues(t *testing.T) {
	// MD5 read as a big-endian integer, computed independently with Python
	// (int.from_bytes(hashlib.md5(k.encode()).digest(), "big")).
	tests := []struct{ key, want string }{
		{"p1", "314273871880498514688419745579426745052"},
		{"a", "16955237001963240173058271559858726497"},
		{"partitionKey-03", "183955990062578521952773094788915351226"},
		{"shard-key-ü", "235721645501922056027651923033044376381"},
	}
	for _, tc := range tests {
		if got := HashKey(tc.key).String(); got != tc.want {
			t.Errorf("HashKey(%q) = %s, want %s", tc.key, got, tc.want)
		}
	}
	for _, n := range []int{0, 64, 65, 1024, 1025, 5000} { // each buffer path
		k := strings.Repeat("m", n)
		if HashKey(k) != Hash128FromBytes(md5Sum([]byte(k))) {
			t.Errorf("HashKey of a %d-byte key differs from MD5", n)
		}
	}
}

func TestParseHash128(t *testing.T) {
	tests := []struct {
		in   string
		want Hash128
		ok   bool
	}{
		{"0", Hash128{}, true},
		{"1", Hash128{Lo: 1}, true},
		{"18446744073709551615", Hash128{Lo: ^uint64(0)}, true},
		{"18446744073709551616", Hash128{Hi: 1}, true},
		{"9999999999999999999", Hash128{Lo: 9999999999999999999}, true},
		{"10000000000000000000", Hash128{Lo: 1e19}, true},
		{"340282366920938463463374607431768211455", MaxHash128, true},
		{"340282366920938463463374607431768211456", Hash128{}, false},  // 2^128
		{"999999999999999999999999999999999999999", Hash128{}, false},  // 39 nines
		{"1000000000000000000000000000000000000000", Hash128{}, false}, // 40 digits
		{"", Hash128{}, false},
		{"00", Hash128{}, false},
		{"01", Hash128{}, false},
		{"-1", Hash128{}, false},
		{"+1", Hash128{}, false},
		{" 1", Hash128{}, false},
		{"1 ", Hash128{}, false},
		{"1e5", Hash128{}, false},
		{"12a", Hash128{}, false},
	}
	for _, tc := range tests {
		got, err := ParseHash128(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseHash128(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidHashKey) {
			t.Errorf("ParseHash128(%q) error %v does not wrap ErrInvalidHashKey", tc.in, err)
		}
	}
}

func TestHash128AgainstBigInt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []Hash128{{}, MaxHash128, {Hi: 1}, {Lo: 1e19 - 1}, {Lo: 1e19}, {Hi: 1e19 / 2, Lo: 7}}
	for range 2000 {
		h := Hash128{Hi: rng.Uint64(), Lo: rng.Uint64()}
		switch rng.IntN(3) { // vary magnitudes
		case 0:
			h.Hi = 0
		case 1:
			h.Hi >>= rng.UintN(64)
		}
		values = append(values, h)
	}
	for _, h := range values {
		b := h.Big()
		if got, want := h.String(), b.String(); got != want {
			t.Fatalf("String(%#v) = %s, want %s", h, got, want)
		}
		back, err := ParseHash128(b.String())
		if err != nil || back != h {
			t.Fatalf("ParseHash128(%s) = %#v, %v; want %#v", b, back, err, h)
		}
		o := values[rng.IntN(len(values))]
		if got, want := h.Cmp(o), b.Cmp(o.Big()); got != want {
			t.Fatalf("Cmp(%v, %v) = %d, want %d", h, o, got, want)
		}
		if h.Less(o) != (b.Cmp(o.Big()) < 0) {
			t.Fatalf("Less(%v, %v) wrong", h, o)
		}
	}
	if MaxHash128.Big().Cmp(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))) != 0 {
		t.Fatal("MaxHash128 != 2^128-1")
	}
}

func TestHash128TextAndJSON(t *testing.T) {
	in := struct{ H Hash128 }{H: Hash128{Hi: 3, Lo: 5}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"H":"55340232221128654853"}` {
		t.Fatalf("json = %s", b)
	}
	var out struct{ H Hash128 }
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"H":"01"}`), &out); err == nil {
		t.Fatal("leading zero accepted")
	}
}

func TestHashRange(t *testing.T) {
	r, err := ParseHashRange("100", "200")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		h    uint64
		want bool
	}{{99, false}, {100, true}, {150, true}, {200, true}, {201, false}} {
		if got := r.Contains(Hash128{Lo: tc.h}); got != tc.want {
			t.Errorf("Contains(%d) = %v", tc.h, got)
		}
	}
	if got := r.String(); got != "[100, 200]" {
		t.Errorf("String = %s", got)
	}
	if !FullHashRange.Contains(MaxHash128) || !FullHashRange.Contains(Hash128{}) {
		t.Error("FullHashRange does not cover the ends")
	}
	for _, bad := range [][2]string{{"200", "100"}, {"x", "1"}, {"1", "340282366920938463463374607431768211456"}} {
		if _, err := ParseHashRange(bad[0], bad[1]); !errors.Is(err, ErrInvalidHashKey) {
			t.Errorf("ParseHashRange(%q) = %v", bad, err)
		}
	}
}

func TestHashNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	var sink Hash128
	allocs := testing.AllocsPerRun(200, func() {
		sink = HashKey("some-partition-key-of-moderate-length-0123456789")
		h, _ := ParseHash128("340282366920938463463374607431768211455")
		buf = h.AppendDecimal(buf[:0])
	})
	if allocs != 0 {
		t.Fatalf("HashKey+ParseHash128+AppendDecimal allocate %.1f times", allocs)
	}
	_ = sink
}
