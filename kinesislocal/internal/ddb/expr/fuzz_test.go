package expr

import (
	"testing"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

var fuzzSeeds = []string{
	"#o = :w1", "attribute_not_exists(leaseKey) OR (#c = :one AND #o <> :w2)", "size(a.b[3]) > :one",
	"a BETWEEN :one AND :eight", "a IN (:one, :w1)", "NOT NOT begins_with(a, :sh)", "((a = :a))",
	"SET a = a + :one, b = if_not_exists(b, :one) REMOVE c[1], d.e ADD f :one DELETE g :ss",
	"SET l = list_append(if_not_exists(l, :l), :l)", "a.b[", "#", ":", "a[99999999999999999999] = :a",
	"contains(tags, :a) AND attribute_type(x, :t)", "\xff\xfe", "SET a[0].b[1].c = :a",
}

func fuzzParams() *Params {
	p := params()
	p.Names["#n"] = "n"
	return p
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCondition("ConditionExpression", s, fuzzParams())
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		Eval(c, testItem())
		Eval(c, nil)
	})
}

func FuzzParseUpdate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUpdate(s, fuzzParams())
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if _, err := u.Apply(testItem()); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("apply error of type %T", err)
			}
		}
		if _, err := u.Apply(nil); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("apply error of type %T", err)
			}
		}
	})
}

func FuzzParseProjection(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseProjection(s, fuzzParams())
		if err == nil {
			Project(testItem(), ps)
		}
	})
}

var _ = attr.S
