package attr

import (
	"math/big"
	"strings"
)

// MaxDigits is DynamoDB's precision limit for N values.
const MaxDigits = 38

// Magnitude limits of a DynamoDB number, as exponents of the form 0.d1d2... x 10^exp.
const (
	maxExp = 126  // 9.99...E+125 = 0.999... x 10^126
	minExp = -129 // 1E-130 = 0.1 x 10^-129
)

// decimal is a parsed number: value = sign * 0.digits * 10^exp. digits has no leading or trailing
// zeros; zero has empty digits.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

// parseDecimal parses DynamoDB number text (Java BigDecimal syntax) and checks DynamoDB's limits.
func parseDecimal(s string) (decimal, error) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		d.neg = s[i] == '-'
		i++
	}
	var mant strings.Builder
	pointPos := -1
	nd := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			mant.WriteByte(c)
			nd++
			continue
		}
		if c == '.' && pointPos < 0 {
			pointPos = nd
			continue
		}
		break
	}
	if nd == 0 {
		return d, errNotNumber
	}
	if pointPos < 0 {
		pointPos = nd
	}
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return d, errNotNumber
		}
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return d, errNotNumber
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return d, errNotNumber
			}
			if exp < 1e6 {
				exp = exp*10 + int(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	m := mant.String()
	// Strip leading zeros (each shifts the decimal point left).
	lead := 0
	for lead < len(m) && m[lead] == '0' {
		lead++
	}
	m = m[lead:]
	pointPos -= lead
	m = strings.TrimRight(m, "0")
	if m == "" {
		return decimal{}, nil
	}
	d.digits = m
	d.exp = pointPos + exp
	if len(d.digits) > MaxDigits {
		return d, errPrecision
	}
	if d.exp > maxExp {
		return d, errOverflow
	}
	if d.exp < minExp {
		return d, errUnderflow
	}
	return d, nil
}

// String returns the canonical text: plain notation, no exponent, no trailing zeros.
func (d decimal) String() string {
	if d.digits == "" {
		return "0"
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	n := len(d.digits)
	switch {
	case d.exp <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -d.exp))
		b.WriteString(d.digits)
	case d.exp >= n:
		b.WriteString(d.digits)
		b.WriteString(strings.Repeat("0", d.exp-n))
	default:
		b.WriteString(d.digits[:d.exp])
		b.WriteByte('.')
		b.WriteString(d.digits[d.exp:])
	}
	return b.String()
}

func (d decimal) sign() int {
	switch {
	case d.digits == "":
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmpDecimal compares two decimals exactly.
func cmpDecimal(a, b decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	if sa == 0 {
		return 0
	}
	c := cmpAbs(a, b)
	if sa < 0 {
		return -c
	}
	return c
}

func cmpAbs(a, b decimal) int {
	if a.exp != b.exp {
		if a.exp < b.exp {
			return -1
		}
		return 1
	}
	return strings.Compare(a.digits, b.digits) // same exponent: lexical order of 0.ddd is numeric
}

// bigOf returns the coefficient and power of ten: value = coef * 10^pow.
func (d decimal) bigOf() (*big.Int, int) {
	c := new(big.Int)
	if d.digits == "" {
		return c, 0
	}
	c.SetString(d.digits, 10)
	if d.neg {
		c.Neg(c)
	}
	return c, d.exp - len(d.digits)
}

var bigTen = big.NewInt(10)

// addDecimal returns a+b (or a-b when sub) exactly, checking DynamoDB's limits on the result.
func addDecimal(a, b decimal, sub bool) (decimal, error) {
	ca, pa := a.bigOf()
	cb, pb := b.bigOf()
	if sub {
		cb.Neg(cb)
	}
	p := min(pa, pb)
	if pa > p {
		ca.Mul(ca, new(big.Int).Exp(bigTen, big.NewInt(int64(pa-p)), nil))
	}
	if pb > p {
		cb.Mul(cb, new(big.Int).Exp(bigTen, big.NewInt(int64(pb-p)), nil))
	}
	ca.Add(ca, cb)
	neg := ca.Sign() < 0
	digits := ca.Abs(ca).String()
	if digits == "0" {
		return decimal{}, nil
	}
	r := decimal{neg: neg, exp: p + len(digits)}
	r.digits = strings.TrimRight(digits, "0")
	if len(r.digits) > MaxDigits {
		return r, errPrecision
	}
	if r.exp > maxExp {
		return r, errOverflow
	}
	if r.exp < minExp {
		return r, errUnderflow
	}
	return r, nil
}

// CanonicalNumber validates DynamoDB number text and returns its canonical form.
func CanonicalNumber(s string) (string, error) {
	d, err := parseDecimal(s)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// CompareNumbers compares two canonical (or any valid) number texts exactly. Invalid text
// compares as zero.
func CompareNumbers(a, b string) int {
	da, _ := parseDecimal(a)
	db, _ := parseDecimal(b)
	return cmpDecimal(da, db)
}

// AddNumbers returns a+b, or a-b when sub, in canonical form.
func AddNumbers(a, b string, sub bool) (string, error) {
	da, err := parseDecimal(a)
	if err != nil {
		return "", err
	}
	db, err := parseDecimal(b)
	if err != nil {
		return "", err
	}
	r, err := addDecimal(da, db, sub)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}

// numberSize is DynamoDB's approximate storage size of a number.
func numberSize(s string) int {
	d, _ := parseDecimal(s)
	return (len(d.digits)+1)/2 + 1
}
