package ddb

import (
	"crypto/sha256"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/expr"
)

// Batch and transaction limits.
const (
	maxBatchGet      = 100
	maxBatchWrite    = 25
	maxTransactItems = 100
	tokenTTL         = 10 * time.Minute
)

type tokenRec struct {
	digest [32]byte
	at     time.Time
}

// lockTables locks the distinct tables in name order (the global lock order) and returns the
// unlock function.
func lockTables(ts []*table) func() {
	uniq := slices.Clone(ts)
	slices.SortFunc(uniq, func(a, b *table) int { return strings.Compare(a.meta.Name, b.meta.Name) })
	uniq = slices.Compact(uniq)
	for _, t := range uniq {
		t.mu.Lock()
	}
	return func() {
		for _, t := range uniq {
			t.mu.Unlock()
		}
	}
}

type batchGetTable struct {
	Keys                 []attr.Item `json:"Keys"`
	ProjectionExpression *string     `json:"ProjectionExpression"`
	AttributesToGet      []string    `json:"AttributesToGet"`
	ConsistentRead       bool        `json:"ConsistentRead"`
	exprParams
}

func (e *Engine) batchGetItem(body []byte) ([]byte, error) {
	var in struct {
		RequestItems           map[string]batchGetTable `json:"RequestItems"`
		ReturnConsumedCapacity string                   `json:"ReturnConsumedCapacity"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.RequestItems == nil {
		return nil, nullMember("requestItems")
	}
	if len(in.RequestItems) == 0 {
		return nil, validation("1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	total := 0
	for _, r := range in.RequestItems {
		total += len(r.Keys)
	}
	if total > maxBatchGet {
		return nil, validation("Too many items requested for the BatchGetItem call")
	}
	type job struct {
		name string
		t    *table
		proj []expr.Path
		keys [][2]any
	}
	var jobs []job
	var tables []*table
	for name, r := range in.RequestItems {
		t, err := e.active(&name)
		if err != nil {
			return nil, err
		}
		if len(r.Keys) == 0 {
			return nil, validation("1 validation error detected: Value '[]' at 'requestItems.%s.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1", name)
		}
		if err := mixed(names("AttributesToGet", r.AttributesToGet != nil), names("ProjectionExpression", r.ProjectionExpression)); err != nil {
			return nil, err
		}
		p, err := r.params(r.ProjectionExpression != nil)
		if err != nil {
			return nil, err
		}
		proj, err := projection(r.ProjectionExpression, r.AttributesToGet, p)
		if err != nil {
			return nil, err
		}
		if err := p.CheckUnused(); err != nil {
			return nil, exprErr(err)
		}
		j := job{name: name, t: t, proj: proj}
		seen := map[string]bool{}
		for _, k := range r.Keys {
			hk, rk, err := t.keyFromKey(k)
			if err != nil {
				return nil, err
			}
			mk := mapKey(hk, rk)
			if seen[mk] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[mk] = true
			j.keys = append(j.keys, [2]any{hk, rk})
		}
		jobs = append(jobs, j)
		tables = append(tables, t)
	}
	resp := map[string][]attr.Item{}
	var caps []map[string]any
	unlock := lockTables(tables)
	for _, j := range jobs {
		items := []attr.Item{}
		size := 0
		for _, k := range j.keys {
			if it := j.t.get(k[0].(string), k[1].(attr.Value)); it != nil {
				items = append(items, expr.Project(it, j.proj))
				size += it.Size()
			}
		}
		resp[j.name] = items
		if c := capacity(in.ReturnConsumedCapacity, j.name, readUnits(size, true)); c != nil {
			caps = append(caps, c)
		}
	}
	unlock()
	out := map[string]any{"Responses": resp, "UnprocessedKeys": map[string]any{}}
	if caps != nil {
		out["ConsumedCapacity"] = caps
	}
	return marshal(out)
}

func (e *Engine) batchWriteItem(body []byte) ([]byte, error) {
	var in struct {
		RequestItems map[string][]struct {
			PutRequest *struct {
				Item attr.Item `json:"Item"`
			} `json:"PutRequest"`
			DeleteRequest *struct {
				Key attr.Item `json:"Key"`
			} `json:"DeleteRequest"`
		} `json:"RequestItems"`
		ReturnConsumedCapacity string `json:"ReturnConsumedCapacity"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.RequestItems == nil {
		return nil, nullMember("requestItems")
	}
	total := 0
	for _, r := range in.RequestItems {
		total += len(r)
	}
	if len(in.RequestItems) == 0 || total > maxBatchWrite {
		return nil, validation("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]")
	}
	type op struct {
		t    *table
		hk   string
		rk   attr.Value
		item attr.Item // nil: delete
	}
	var ops []op
	var tables []*table
	units := map[string]float64{}
	for name, reqs := range in.RequestItems {
		t, err := e.active(&name)
		if err != nil {
			return nil, err
		}
		if len(reqs) == 0 {
			return nil, validation("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]")
		}
		tables = append(tables, t)
		seen := map[string]bool{}
		for _, r := range reqs {
			var o op
			o.t = t
			switch {
			case r.PutRequest != nil && r.DeleteRequest == nil:
				if r.PutRequest.Item == nil {
					return nil, nullMember("requestItems." + name + ".member.putRequest.item")
				}
				if o.hk, o.rk, err = t.keyFromItem(r.PutRequest.Item); err != nil {
					return nil, err
				}
				if r.PutRequest.Item.Size() > maxItemBytes {
					return nil, validation("Item size has exceeded the maximum allowed size")
				}
				o.item = r.PutRequest.Item
			case r.DeleteRequest != nil && r.PutRequest == nil:
				if r.DeleteRequest.Key == nil {
					return nil, nullMember("requestItems." + name + ".member.deleteRequest.key")
				}
				if o.hk, o.rk, err = t.keyFromKey(r.DeleteRequest.Key); err != nil {
					return nil, err
				}
			default:
				return nil, validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
			mk := mapKey(o.hk, o.rk)
			if seen[mk] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[mk] = true
			ops = append(ops, o)
			units[name] += writeUnits(o.item.Size())
		}
	}
	unlock := lockTables(tables)
	muts := make([]mutation, 0, len(ops))
	for _, o := range ops {
		m := mutation{Table: o.t.meta.Name, Put: o.item}
		if o.item == nil {
			m.Del = o.t.keyOf(attr.Item(o.t.keyAttrs(o.hk, o.rk)))
		}
		muts = append(muts, m)
	}
	end, err := e.logAppend(muts)
	if err != nil {
		unlock()
		return nil, err
	}
	for _, o := range ops {
		if o.item == nil {
			o.t.del(o.hk, o.rk)
		} else {
			o.t.put(o.hk, o.rk, o.item)
		}
	}
	unlock()
	if err := e.logWait(end); err != nil {
		return nil, err
	}
	out := map[string]any{"UnprocessedItems": map[string]any{}}
	if in.ReturnConsumedCapacity == "TOTAL" || in.ReturnConsumedCapacity == "INDEXES" {
		var caps []map[string]any
		for name, u := range units {
			caps = append(caps, capacity(in.ReturnConsumedCapacity, name, u))
		}
		out["ConsumedCapacity"] = caps
	}
	return marshal(out)
}

// keyAttrs rebuilds the key attributes from the encoded key.
func (t *table) keyAttrs(hk string, rk attr.Value) attr.Item {
	k := attr.Item{t.meta.Key.Hash: {Kind: t.meta.Key.HashType, Str: hk}}
	if t.meta.Key.Range != "" {
		k[t.meta.Key.Range] = rk
	}
	return k
}

type transactAction struct {
	ConditionCheck *writeIn `json:"ConditionCheck"`
	Put            *writeIn `json:"Put"`
	Delete         *writeIn `json:"Delete"`
	Update         *writeIn `json:"Update"`
}

func (e *Engine) transactWriteItems(body []byte) ([]byte, error) {
	var in struct {
		TransactItems          []transactAction `json:"TransactItems"`
		ClientRequestToken     *string          `json:"ClientRequestToken"`
		ReturnConsumedCapacity string           `json:"ReturnConsumedCapacity"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TransactItems == nil {
		return nil, nullMember("transactItems")
	}
	if len(in.TransactItems) < 1 || len(in.TransactItems) > maxTransactItems {
		return nil, validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100, Member must have length greater than or equal to 1")
	}
	if in.ClientRequestToken != nil {
		if n := len(*in.ClientRequestToken); n < 1 || n > 36 {
			return nil, validation("1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36", *in.ClientRequestToken)
		}
		if replay, err := e.checkToken(*in.ClientRequestToken, body); err != nil || replay {
			if err != nil {
				return nil, err
			}
			return []byte("{}"), nil
		}
	}
	prs := make([]*prepared, len(in.TransactItems))
	var tables []*table
	seen := map[*table]map[string]bool{}
	for i, a := range in.TransactItems {
		n := 0
		var w *writeIn
		var op string
		for _, c := range []struct {
			w  *writeIn
			op string
		}{{a.ConditionCheck, "ConditionCheck"}, {a.Put, "PutItem"}, {a.Delete, "DeleteItem"}, {a.Update, "UpdateItem"}} {
			if c.w != nil {
				n++
				w, op = c.w, c.op
			}
		}
		if n != 1 {
			return nil, validation("TransactItems can only contain one of Check, Put, Update or Delete")
		}
		if w.ReturnValues != "" && w.ReturnValues != "NONE" {
			return nil, validation("ReturnValues is not supported in TransactWriteItems; use ReturnValuesOnConditionCheckFailure")
		}
		var pr *prepared
		var err error
		if op == "ConditionCheck" {
			if w.ConditionExpression == nil {
				return nil, nullMember("transactItems." + strconv.Itoa(i+1) + ".member.conditionCheck.conditionExpression")
			}
			pr, err = e.prepare("DeleteItem", w) // same shape: key + condition
			if pr != nil {
				pr.del = false
				pr.update = nil
				pr.check = true
			}
		} else {
			pr, err = e.prepare(op, w)
		}
		if err != nil {
			return nil, err
		}
		mk := mapKey(pr.hk, pr.rk)
		if seen[pr.t] == nil {
			seen[pr.t] = map[string]bool{}
		}
		if seen[pr.t][mk] {
			return nil, validation("Transaction request cannot include multiple operations on one item")
		}
		seen[pr.t][mk] = true
		prs[i] = pr
		tables = append(tables, pr.t)
	}
	unlock := lockTables(tables)
	reasons := make([]map[string]any, len(prs))
	failed := false
	news := make([]attr.Item, len(prs))
	olds := make([]attr.Item, len(prs))
	var codes []string
	for i, pr := range prs {
		old := pr.t.get(pr.hk, pr.rk)
		olds[i] = old
		reasons[i] = map[string]any{"Code": "None"}
		var nu attr.Item
		var err error
		if pr.check {
			if !expr.Eval(pr.cond, old) {
				err = condFailed(old, pr.failOld)
			}
		} else {
			nu, err = pr.apply(old)
		}
		if err != nil {
			failed = true
			ae, _ := err.(*awsproto.Error)
			r := map[string]any{"Code": "ValidationError", "Message": err.Error()}
			if ae != nil && ae.Type == awsproto.ConditionalCheckFailed {
				r = map[string]any{"Code": "ConditionalCheckFailed", "Message": msgCondFailed}
				if pr.failOld && old != nil {
					r["Item"] = old
				}
			} else if ae != nil {
				r["Message"] = ae.Message
			}
			reasons[i] = r
		}
		news[i] = nu
		codes = append(codes, reasons[i]["Code"].(string))
	}
	if failed {
		unlock()
		ex := awsproto.Errorf(awsproto.TransactionCanceled, "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]", strings.Join(codes, ", "))
		ex.Extra = map[string]any{"CancellationReasons": reasons}
		return nil, ex
	}
	var muts []mutation
	for i, pr := range prs {
		switch {
		case pr.check:
		case pr.del:
			if olds[i] != nil {
				muts = append(muts, mutation{Table: pr.t.meta.Name, Del: pr.t.keyOf(olds[i])})
			}
		default:
			muts = append(muts, mutation{Table: pr.t.meta.Name, Put: news[i]})
		}
	}
	var end int64
	if len(muts) > 0 {
		var err error
		if end, err = e.logAppend(muts); err != nil {
			unlock()
			return nil, err
		}
	}
	for i, pr := range prs {
		switch {
		case pr.check:
		case pr.del:
			pr.t.del(pr.hk, pr.rk)
		default:
			pr.t.put(pr.hk, pr.rk, news[i])
		}
	}
	unlock()
	if err := e.logWait(end); err != nil {
		return nil, err
	}
	if in.ClientRequestToken != nil {
		e.rememberToken(*in.ClientRequestToken, body)
	}
	return []byte("{}"), nil
}

// checkToken reports whether a ClientRequestToken was already used (in the last 10 minutes) by
// an identical request, or fails when it was used by a different one.
func (e *Engine) checkToken(tok string, body []byte) (bool, error) {
	e.tokMu.Lock()
	defer e.tokMu.Unlock()
	r, ok := e.tokens[tok]
	if !ok || e.now().Sub(r.at) > tokenTTL {
		return false, nil
	}
	if r.digest != sha256.Sum256(body) {
		return false, awsproto.Errorf(typeIdempotentParam, "Request parameters do not match the previous request with the same client request token")
	}
	return true, nil
}

func (e *Engine) rememberToken(tok string, body []byte) {
	e.tokMu.Lock()
	defer e.tokMu.Unlock()
	now := e.now()
	for k, r := range e.tokens {
		if now.Sub(r.at) > tokenTTL {
			delete(e.tokens, k)
		}
	}
	e.tokens[tok] = tokenRec{digest: sha256.Sum256(body), at: now}
}

func (e *Engine) transactGetItems(body []byte) ([]byte, error) {
	var in struct {
		TransactItems []struct {
			Get *struct {
				TableName            *string   `json:"TableName"`
				Key                  attr.Item `json:"Key"`
				ProjectionExpression *string   `json:"ProjectionExpression"`
				exprParams
			} `json:"Get"`
		} `json:"TransactItems"`
		ReturnConsumedCapacity string `json:"ReturnConsumedCapacity"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TransactItems == nil {
		return nil, nullMember("transactItems")
	}
	if len(in.TransactItems) < 1 || len(in.TransactItems) > maxTransactItems {
		return nil, validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100, Member must have length greater than or equal to 1")
	}
	type get struct {
		t    *table
		hk   string
		rk   attr.Value
		proj []expr.Path
	}
	gets := make([]get, len(in.TransactItems))
	var tables []*table
	for i, a := range in.TransactItems {
		if a.Get == nil {
			return nil, nullMember("transactItems.member.get")
		}
		t, err := e.active(a.Get.TableName)
		if err != nil {
			return nil, err
		}
		if a.Get.Key == nil {
			return nil, nullMember("transactItems.member.get.key")
		}
		hk, rk, err := t.keyFromKey(a.Get.Key)
		if err != nil {
			return nil, err
		}
		p, err := a.Get.params(a.Get.ProjectionExpression != nil)
		if err != nil {
			return nil, err
		}
		proj, err := projection(a.Get.ProjectionExpression, nil, p)
		if err != nil {
			return nil, err
		}
		if err := p.CheckUnused(); err != nil {
			return nil, exprErr(err)
		}
		gets[i] = get{t, hk, rk, proj}
		tables = append(tables, t)
	}
	unlock := lockTables(tables)
	resp := make([]map[string]any, len(gets))
	for i, g := range gets {
		resp[i] = map[string]any{}
		if it := g.t.get(g.hk, g.rk); it != nil {
			resp[i]["Item"] = expr.Project(it, g.proj)
		}
	}
	unlock()
	return marshal(map[string]any{"Responses": resp})
}
