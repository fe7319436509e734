package ddb

import (
	"math/bits"
	"slices"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/expr"
)

// maxPageBytes is DynamoDB's 1 MB cap on the data a Query or Scan page reads.
const maxPageBytes = 1 << 20

type readIn struct {
	TableName              *string                  `json:"TableName"`
	IndexName              *string                  `json:"IndexName"`
	KeyConditionExpression *string                  `json:"KeyConditionExpression"`
	KeyConditions          map[string]expr.Expected `json:"KeyConditions"`
	FilterExpression       *string                  `json:"FilterExpression"`
	QueryFilter            map[string]expr.Expected `json:"QueryFilter"`
	ScanFilter             map[string]expr.Expected `json:"ScanFilter"`
	ConditionalOperator    string                   `json:"ConditionalOperator"`
	ProjectionExpression   *string                  `json:"ProjectionExpression"`
	AttributesToGet        []string                 `json:"AttributesToGet"`
	Select                 string                   `json:"Select"`
	Limit                  *int                     `json:"Limit"`
	ExclusiveStartKey      attr.Item                `json:"ExclusiveStartKey"`
	ScanIndexForward       *bool                    `json:"ScanIndexForward"`
	ConsistentRead         bool                     `json:"ConsistentRead"`
	Segment                *int                     `json:"Segment"`
	TotalSegments          *int                     `json:"TotalSegments"`
	ReturnConsumedCapacity string                   `json:"ReturnConsumedCapacity"`
	exprParams
}

// readPlan is a validated Query or Scan.
type readPlan struct {
	t       *table
	g       *gsiMeta // nil: the table itself
	key     keyDef   // the key of what is read (table or index)
	filter  expr.Cond
	proj    []expr.Path
	count   bool // Select COUNT
	limit   int  // 0: none
	esk     attr.Item
	forward bool
	// Query only
	hash     *attr.Value
	rangeOK  func(attr.Value) bool
	seg, tot int
}

func (e *Engine) planRead(op string, in *readIn) (*readPlan, error) {
	t, err := e.active(in.TableName)
	if err != nil {
		return nil, err
	}
	pl := &readPlan{t: t, key: t.meta.Key, forward: in.ScanIndexForward == nil || *in.ScanIndexForward, tot: 1}
	if in.IndexName != nil {
		pl.g = t.gsi(*in.IndexName)
		if pl.g == nil {
			return nil, validation("The table does not have the specified index: %s", *in.IndexName)
		}
		pl.key = pl.g.Key
		if t.gsiStatus(pl.g, e.now(), e.opts.StateDelay) == "CREATING" {
			return nil, validation("Cannot read from backfilling global secondary index: %s", pl.g.Name)
		}
		if in.ConsistentRead {
			return nil, validation("Consistent reads are not supported on global secondary indexes")
		}
	}
	if in.Limit != nil {
		if *in.Limit < 1 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
		}
		pl.limit = *in.Limit
	}
	filterLegacy := in.QueryFilter
	if op == "Scan" {
		filterLegacy = in.ScanFilter
	}
	legacy := names("AttributesToGet", in.AttributesToGet != nil, "KeyConditions", in.KeyConditions != nil,
		"QueryFilter", in.QueryFilter != nil, "ScanFilter", in.ScanFilter != nil, "ConditionalOperator", in.ConditionalOperator != "")
	modern := names("ProjectionExpression", in.ProjectionExpression, "KeyConditionExpression", in.KeyConditionExpression,
		"FilterExpression", in.FilterExpression)
	if err := mixed(legacy, modern); err != nil {
		return nil, err
	}
	p, err := in.params(len(modern) > 0)
	if err != nil {
		return nil, err
	}
	if op == "Query" {
		if err := pl.keyCondition(in, p); err != nil {
			return nil, err
		}
	} else if err := pl.segments(in); err != nil {
		return nil, err
	}
	if in.FilterExpression != nil {
		what := "FilterExpression"
		if pl.filter, err = expr.ParseCondition(what, *in.FilterExpression, p); err != nil {
			return nil, exprErr(err)
		}
	} else if filterLegacy != nil {
		if pl.filter, err = expr.FromExpected(filterLegacy, in.ConditionalOperator); err != nil {
			return nil, exprErr(err)
		}
	}
	if op == "Query" && pl.filter != nil {
		for _, path := range expr.CondPaths(pl.filter) {
			if n := path.TopName(); n == pl.key.Hash || n == pl.key.Range {
				return nil, validation("Filter Expression can only contain non-primary key attributes: Primary key attribute: %s", n)
			}
		}
	}
	if pl.proj, err = projection(in.ProjectionExpression, in.AttributesToGet, p); err != nil {
		return nil, err
	}
	switch in.Select {
	case "", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]", in.Select)
	}
	if pl.proj != nil && in.Select != "" && in.Select != "SPECIFIC_ATTRIBUTES" {
		return nil, validation("Cannot specify the ProjectionExpression when choosing to get %s", in.Select)
	}
	if in.Select == "ALL_ATTRIBUTES" && pl.g != nil && pl.g.ProjectionType != "ALL" {
		return nil, invalidParam("Select type ALL_ATTRIBUTES is not supported for global secondary index %s because its projection type is not ALL", pl.g.Name)
	}
	if in.Select == "ALL_PROJECTED_ATTRIBUTES" && pl.g == nil {
		return nil, invalidParam("Select type ALL_PROJECTED_ATTRIBUTES is not supported for a table; use ALL_ATTRIBUTES")
	}
	pl.count = in.Select == "COUNT"
	if in.ExclusiveStartKey != nil {
		if err := pl.checkStartKey(in.ExclusiveStartKey); err != nil {
			return nil, err
		}
		pl.esk = in.ExclusiveStartKey
	}
	if err := p.CheckUnused(); err != nil {
		return nil, exprErr(err)
	}
	return pl, nil
}

func (pl *readPlan) checkStartKey(esk attr.Item) error {
	bad := validation("The provided starting key is invalid: The provided key element does not match the schema")
	need := map[string]attr.Kind{}
	for _, k := range []keyDef{pl.t.meta.Key, pl.key} {
		need[k.Hash] = k.HashType
		if k.Range != "" {
			need[k.Range] = k.RangeType
		}
	}
	if len(esk) != len(need) {
		return bad
	}
	for n, typ := range need {
		if v, ok := esk[n]; !ok || v.Kind != typ {
			return bad
		}
	}
	return nil
}

func (pl *readPlan) segments(in *readIn) error {
	if (in.Segment == nil) != (in.TotalSegments == nil) {
		if in.Segment != nil {
			return validation("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
		}
		return validation("The Segment parameter is required but was not present in the request when parameter TotalSegments is present")
	}
	if in.Segment == nil {
		return nil
	}
	seg, tot := *in.Segment, *in.TotalSegments
	if tot < 1 || tot > 1000000 {
		return validation("1 validation error detected: Value '%d' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000 and greater than or equal to 1", tot)
	}
	if seg < 0 {
		return validation("1 validation error detected: Value '%d' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0", seg)
	}
	if seg >= tot {
		return validation("The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %d is not less than TotalSegments: %d", seg, tot)
	}
	pl.seg, pl.tot = seg, tot
	return nil
}

// keyCondition validates KeyConditionExpression (or legacy KeyConditions) against the key.
func (pl *readPlan) keyCondition(in *readIn, p *expr.Params) error {
	var parts []expr.Cond
	switch {
	case in.KeyConditionExpression != nil:
		c, err := expr.ParseCondition("KeyConditionExpression", *in.KeyConditionExpression, p)
		if err != nil {
			return exprErr(err)
		}
		var flat func(c expr.Cond) error
		flat = func(c expr.Cond) error {
			switch c := c.(type) {
			case *expr.AndCond:
				if err := flat(c.L); err != nil {
					return err
				}
				return flat(c.R)
			case *expr.OrCond:
				return validation("Invalid operator used in KeyConditionExpression: OR")
			case *expr.NotCond:
				return validation("Invalid operator used in KeyConditionExpression: NOT")
			case *expr.InCond:
				return validation("Invalid operator used in KeyConditionExpression: IN")
			case *expr.CompareCond:
				if c.Op == "<>" {
					return validation("Unsupported operator used in KeyConditionExpression: <>")
				}
			case *expr.FuncCond:
				if c.Name != "begins_with" {
					return validation("Invalid operator used in KeyConditionExpression: %s", c.Name)
				}
			}
			parts = append(parts, c)
			return nil
		}
		if err := flat(c); err != nil {
			return err
		}
	case in.KeyConditions != nil:
		for name, kc := range in.KeyConditions {
			c, err := expr.Comparison(name, kc.ComparisonOperator, kc.AttributeValueList)
			if err != nil {
				return exprErr(err)
			}
			parts = append(parts, c)
		}
	default:
		return validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	if len(parts) > 2 {
		return validation("Conditions can be of length 1 or 2 only")
	}
	seen := map[string]bool{}
	for _, c := range parts {
		name, op, vals, ok := keyPart(c)
		if !ok {
			return validation("Query key condition not supported")
		}
		if seen[name] {
			return validation("KeyConditionExpressions must only contain one condition per key")
		}
		seen[name] = true
		var typ attr.Kind
		switch name {
		case pl.key.Hash:
			if op != "=" {
				return validation("Query key condition not supported")
			}
			typ = pl.key.HashType
			v := vals[0]
			pl.hash = &v
		case pl.key.Range:
			typ = pl.key.RangeType
			pl.rangeOK = rangeFunc(op, vals)
		default:
			return validation("Query condition missed key schema element: %s", pl.key.Hash)
		}
		for _, v := range vals {
			if v.Kind != typ {
				return invalidParam("Condition parameter type does not match schema type")
			}
		}
	}
	if pl.hash == nil {
		return validation("Query condition missed key schema element: %s", pl.key.Hash)
	}
	return nil
}

// keyPart decomposes one key condition into attribute name, operator and values.
func keyPart(c expr.Cond) (name, op string, vals []attr.Value, ok bool) {
	single := func(o expr.Operand) (string, bool) {
		p, ok := o.(*expr.PathOp)
		if !ok || len(p.Path) != 1 {
			return "", false
		}
		return p.Path[0].Name, true
	}
	val := func(o expr.Operand) (attr.Value, bool) {
		v, ok := o.(*expr.ValueOp)
		if !ok {
			return attr.Value{}, false
		}
		return v.V, true
	}
	switch c := c.(type) {
	case *expr.CompareCond:
		if n, ok := single(c.L); ok {
			v, ok := val(c.R)
			return n, c.Op, []attr.Value{v}, ok
		}
		if n, ok := single(c.R); ok { // :v < a  ==  a > :v
			v, ok := val(c.L)
			flip := map[string]string{"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}[c.Op]
			return n, flip, []attr.Value{v}, ok
		}
	case *expr.BetweenCond:
		n, ok1 := single(c.V)
		lo, ok2 := val(c.Lo)
		hi, ok3 := val(c.Hi)
		return n, "BETWEEN", []attr.Value{lo, hi}, ok1 && ok2 && ok3
	case *expr.FuncCond:
		n, ok1 := single(c.Path)
		v, ok2 := val(c.Arg)
		return n, "begins_with", []attr.Value{v}, ok1 && ok2
	}
	return "", "", nil, false
}

func rangeFunc(op string, vals []attr.Value) func(attr.Value) bool {
	return func(v attr.Value) bool {
		c, ok := attr.Compare(v, vals[0])
		if !ok {
			return false
		}
		switch op {
		case "=":
			return c == 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		case "BETWEEN":
			c2, _ := attr.Compare(v, vals[1])
			return c >= 0 && c2 <= 0
		case "begins_with":
			return len(v.Str) >= len(vals[0].Str) && v.Str[:len(vals[0].Str)] == vals[0].Str
		}
		return false
	}
}

// probeFor builds an entry that sorts exactly where the item with these key attributes does.
func (pl *readPlan) probeFor(k attr.Item) *entry {
	tk := pl.t.meta.Key
	base := &entry{order: hashOrder(k[tk.Hash].Str), hk: k[tk.Hash].Str}
	if tk.Range != "" {
		base.rk = k[tk.Range]
	}
	if pl.g == nil {
		return base
	}
	e := &entry{order: hashOrder(k[pl.key.Hash].Str), hk: k[pl.key.Hash].Str, base: base}
	if pl.key.Range != "" {
		e.rk = k[pl.key.Range]
	}
	return e
}

// lastKey is the LastEvaluatedKey of an entry.
func (pl *readPlan) lastKey(en *entry) attr.Item {
	k := pl.t.keyOf(en.item)
	if pl.g != nil {
		k[pl.key.Hash] = en.item[pl.key.Hash]
		if pl.key.Range != "" {
			k[pl.key.Range] = en.item[pl.key.Range]
		}
	}
	return k
}

// execute runs the plan under the table lock and renders the response.
func (e *Engine) execute(pl *readPlan, query bool, capMode string, consistent bool) ([]byte, error) {
	t := pl.t
	t.mu.Lock()
	entries := t.entries
	if pl.g != nil {
		entries = t.indexEntries(pl.g)
	}
	var view []*entry
	if query {
		probe := &entry{order: hashOrder(pl.hash.Str), hk: pl.hash.Str}
		lo, _ := slices.BinarySearchFunc(entries, probe, func(a, b *entry) int {
			if c := cmpOrder(a, b); c != 0 {
				return c
			}
			return 0
		})
		hi := lo
		for hi < len(entries) && entries[hi].order == probe.order && entries[hi].hk == probe.hk {
			hi++
		}
		view = entries[lo:hi]
	} else {
		lo, hi := segmentBounds(pl.seg, pl.tot)
		start, _ := slices.BinarySearchFunc(entries, lo, func(a *entry, o uint64) int { return cmpU64(a.order, o) })
		end := len(entries)
		if pl.seg+1 < pl.tot {
			end, _ = slices.BinarySearchFunc(entries, hi, func(a *entry, o uint64) int { return cmpU64(a.order, o) })
		}
		view = entries[start:end]
	}
	if !pl.forward {
		view = slices.Clone(view)
		slices.Reverse(view)
	}
	if pl.esk != nil {
		probe := pl.probeFor(pl.esk)
		i := 0
		for i < len(view) {
			c := cmpEntry(view[i], probe)
			if pl.forward && c > 0 || !pl.forward && c < 0 {
				break
			}
			i++
		}
		view = view[i:]
	}
	items := []attr.Item{}
	scanned, bytes := 0, 0
	var last attr.Item
	for _, en := range view {
		if pl.rangeOK != nil && !pl.rangeOK(en.rk) {
			continue
		}
		scanned++
		it := en.item
		if pl.g != nil {
			it = t.projectIndex(pl.g, it)
		}
		bytes += it.Size()
		if expr.Eval(pl.filter, it) {
			if !pl.count {
				items = append(items, expr.Project(it, pl.proj))
			} else {
				items = append(items, nil)
			}
		}
		if pl.limit > 0 && scanned >= pl.limit || bytes >= maxPageBytes {
			last = pl.lastKey(en)
			break
		}
	}
	t.mu.Unlock()
	var w respWriter
	w.int("Count", len(items))
	w.int("ScannedCount", scanned)
	if !pl.count {
		w.items("Items", items)
	}
	if last != nil {
		w.item("LastEvaluatedKey", last)
	}
	if c := capacity(capMode, t.meta.Name, readUnits(bytes, consistent)); c != nil {
		if err := w.value("ConsumedCapacity", c); err != nil {
			return nil, err
		}
	}
	return w.bytes(), nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpOrder(a, b *entry) int {
	if c := cmpU64(a.order, b.order); c != 0 {
		return c
	}
	switch {
	case a.hk < b.hk:
		return -1
	case a.hk > b.hk:
		return 1
	}
	return 0
}

// segmentBounds splits the 64-bit partition-order space into tot equal segments.
func segmentBounds(seg, tot int) (lo, hi uint64) {
	lo, _ = bits.Div64(uint64(seg), 0, uint64(tot))
	if seg+1 < tot {
		hi, _ = bits.Div64(uint64(seg+1), 0, uint64(tot))
	}
	return lo, hi
}

func (e *Engine) query(body []byte) ([]byte, error) {
	var in readIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	pl, err := e.planRead("Query", &in)
	if err != nil {
		return nil, err
	}
	return e.execute(pl, true, in.ReturnConsumedCapacity, in.ConsistentRead)
}

func (e *Engine) scan(body []byte) ([]byte, error) {
	var in readIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	pl, err := e.planRead("Scan", &in)
	if err != nil {
		return nil, err
	}
	return e.execute(pl, false, in.ReturnConsumedCapacity, in.ConsistentRead)
}
