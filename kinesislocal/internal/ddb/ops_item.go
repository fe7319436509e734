package ddb

import (
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/expr"
)

type getItemIn struct {
	TableName              *string   `json:"TableName"`
	Key                    attr.Item `json:"Key"`
	ConsistentRead         bool      `json:"ConsistentRead"`
	ProjectionExpression   *string   `json:"ProjectionExpression"`
	AttributesToGet        []string  `json:"AttributesToGet"`
	ReturnConsumedCapacity string    `json:"ReturnConsumedCapacity"`
	exprParams
}

func nullMember(field string) error {
	return validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}

func (e *Engine) getItem(body []byte) ([]byte, error) {
	var in getItemIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := e.active(in.TableName)
	if err != nil {
		return nil, err
	}
	if in.Key == nil {
		return nil, nullMember("key")
	}
	if err := mixed(names("AttributesToGet", in.AttributesToGet != nil), names("ProjectionExpression", in.ProjectionExpression)); err != nil {
		return nil, err
	}
	p, err := in.params(in.ProjectionExpression != nil)
	if err != nil {
		return nil, err
	}
	proj, err := projection(in.ProjectionExpression, in.AttributesToGet, p)
	if err != nil {
		return nil, err
	}
	if err := p.CheckUnused(); err != nil {
		return nil, exprErr(err)
	}
	hk, rk, err := t.keyFromKey(in.Key)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	it := t.get(hk, rk)
	t.mu.Unlock()
	var w respWriter
	if it != nil {
		w.item("Item", expr.Project(it, proj))
	}
	if c := capacity(in.ReturnConsumedCapacity, *in.TableName, readUnits(it.Size(), in.ConsistentRead)); c != nil {
		if err := w.value("ConsumedCapacity", c); err != nil {
			return nil, err
		}
	}
	return w.bytes(), nil
}

type writeIn struct {
	TableName                           *string                         `json:"TableName"`
	ConditionExpression                 *string                         `json:"ConditionExpression"`
	Expected                            map[string]expr.Expected        `json:"Expected"`
	ConditionalOperator                 string                          `json:"ConditionalOperator"`
	ReturnValues                        string                          `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string                          `json:"ReturnValuesOnConditionCheckFailure"`
	ReturnConsumedCapacity              string                          `json:"ReturnConsumedCapacity"`
	ReturnItemCollectionMetrics         string                          `json:"ReturnItemCollectionMetrics"`
	Item                                attr.Item                       `json:"Item"`
	Key                                 attr.Item                       `json:"Key"`
	UpdateExpression                    *string                         `json:"UpdateExpression"`
	AttributeUpdates                    map[string]expr.AttributeUpdate `json:"AttributeUpdates"`
	exprParams
}

// prepared is a validated single-item write, ready to run under the table lock.
type prepared struct {
	t       *table
	hk      string
	rk      attr.Value
	cond    expr.Cond
	update  *expr.Update // UpdateItem
	put     attr.Item    // PutItem
	del     bool         // DeleteItem
	check   bool         // TransactWriteItems ConditionCheck
	key     attr.Item
	paths   []expr.Path // updated paths, for UPDATED_*
	rv      string
	failOld bool
	capMode string
}

// prepare validates a Put (item), Update (key + update) or Delete (key) request.
func (e *Engine) prepare(op string, in *writeIn) (*prepared, error) {
	t, err := e.active(in.TableName)
	if err != nil {
		return nil, err
	}
	pr := &prepared{t: t, rv: in.ReturnValues, failOld: in.ReturnValuesOnConditionCheckFailure == "ALL_OLD", capMode: in.ReturnConsumedCapacity}
	switch op {
	case "PutItem", "DeleteItem":
		if err := checkReturnValues(in.ReturnValues, "NONE", "ALL_OLD"); err != nil {
			return nil, err
		}
	default:
		if err := checkReturnValues(in.ReturnValues, "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"); err != nil {
			return nil, err
		}
	}
	if err := checkReturnOnFailure(in.ReturnValuesOnConditionCheckFailure); err != nil {
		return nil, err
	}
	legacy := names("Expected", in.Expected != nil, "AttributeUpdates", in.AttributeUpdates != nil, "ConditionalOperator", in.ConditionalOperator != "")
	modern := names("ConditionExpression", in.ConditionExpression, "UpdateExpression", in.UpdateExpression)
	if err := mixed(legacy, modern); err != nil {
		return nil, err
	}
	p, err := in.params(len(modern) > 0)
	if err != nil {
		return nil, err
	}
	if pr.cond, err = condition(in.ConditionExpression, in.Expected, in.ConditionalOperator, p); err != nil {
		return nil, err
	}
	switch op {
	case "PutItem":
		if in.Item == nil {
			return nil, nullMember("item")
		}
		if pr.hk, pr.rk, err = t.keyFromItem(in.Item); err != nil {
			return nil, err
		}
		if in.Item.Size() > maxItemBytes {
			return nil, validation("Item size has exceeded the maximum allowed size")
		}
		pr.put = in.Item
	case "UpdateItem":
		if in.Key == nil {
			return nil, nullMember("key")
		}
		if pr.hk, pr.rk, err = t.keyFromKey(in.Key); err != nil {
			return nil, err
		}
		pr.key = in.Key
		switch {
		case in.UpdateExpression != nil:
			if pr.update, err = expr.ParseUpdate(*in.UpdateExpression, p); err != nil {
				return nil, exprErr(err)
			}
		case in.AttributeUpdates != nil:
			if pr.update, err = expr.FromAttributeUpdates(in.AttributeUpdates); err != nil {
				return nil, exprErr(err)
			}
		default:
			pr.update = &expr.Update{}
		}
		pr.paths = pr.update.Paths()
		for _, path := range pr.paths {
			if n := path.TopName(); n == t.meta.Key.Hash || n == t.meta.Key.Range {
				return nil, invalidParam("Cannot update attribute %s. This attribute is part of the key", n)
			}
		}
	case "DeleteItem":
		if in.Key == nil {
			return nil, nullMember("key")
		}
		if pr.hk, pr.rk, err = t.keyFromKey(in.Key); err != nil {
			return nil, err
		}
		pr.key = in.Key
		pr.del = true
	}
	if err := p.CheckUnused(); err != nil {
		return nil, exprErr(err)
	}
	return pr, nil
}

// apply checks the condition against old and computes the new item (nil for a delete). It is
// pure: the caller holds the table lock and stores the result.
func (pr *prepared) apply(old attr.Item) (attr.Item, error) {
	if !expr.Eval(pr.cond, old) {
		return nil, condFailed(old, pr.failOld)
	}
	switch {
	case pr.put != nil:
		return pr.put, nil
	case pr.del:
		return nil, nil
	}
	base := old
	if base == nil {
		base = pr.key
	}
	nu, err := pr.update.Apply(base)
	if err != nil {
		return nil, exprErr(err)
	}
	if err := pr.t.checkIndexKeys(nu); err != nil {
		return nil, err
	}
	if nu.Size() > maxItemBytes {
		return nil, validation("Item size to update has exceeded the maximum allowed size")
	}
	return nu, nil
}

// returnValues renders the Attributes member for ReturnValues.
func (pr *prepared) returnValues(old, nu attr.Item) attr.Item {
	var out attr.Item
	switch pr.rv {
	case "ALL_OLD":
		out = old
	case "ALL_NEW":
		out = nu
	case "UPDATED_OLD":
		out = expr.Project(old, pr.paths)
	case "UPDATED_NEW":
		out = expr.Project(nu, pr.paths)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// run executes a prepared single-item write atomically with its condition check.
func (e *Engine) run(pr *prepared) ([]byte, error) {
	t := pr.t
	t.mu.Lock()
	old := t.get(pr.hk, pr.rk)
	nu, err := pr.apply(old)
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	m := mutation{Table: t.meta.Name}
	if pr.del {
		if old == nil {
			t.mu.Unlock() // nothing to delete: nothing to log
			return e.writeResult(pr, old, nu)
		}
		m.Del = t.keyOf(old)
	} else {
		m.Put = nu
	}
	end, err := e.logAppend([]mutation{m})
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	if pr.del {
		t.del(pr.hk, pr.rk)
	} else {
		t.put(pr.hk, pr.rk, nu)
	}
	t.mu.Unlock()
	if err := e.logWait(end); err != nil {
		return nil, err
	}
	return e.writeResult(pr, old, nu)
}

func (e *Engine) writeResult(pr *prepared, old, nu attr.Item) ([]byte, error) {
	var w respWriter
	if a := pr.returnValues(old, nu); a != nil {
		w.item("Attributes", a)
	}
	if c := capacity(pr.capMode, pr.t.meta.Name, writeUnits(max(old.Size(), nu.Size()))); c != nil {
		if err := w.value("ConsumedCapacity", c); err != nil {
			return nil, err
		}
	}
	return w.bytes(), nil
}

func (e *Engine) writeOp(op string, body []byte) ([]byte, error) {
	var in writeIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	pr, err := e.prepare(op, &in)
	if err != nil {
		return nil, err
	}
	return e.run(pr)
}

func (e *Engine) putItem(body []byte) ([]byte, error)    { return e.writeOp("PutItem", body) }
func (e *Engine) updateItem(body []byte) ([]byte, error) { return e.writeOp("UpdateItem", body) }
func (e *Engine) deleteItem(body []byte) ([]byte, error) { return e.writeOp("DeleteItem", body) }
