package ddb

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb/attr"
)

var tableNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

func checkTableName(field, name string) error {
	switch {
	case len(name) < 3:
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to 3", name, field)
	case len(name) > 255:
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to 255", name, field)
	case !tableNameRE.MatchString(name):
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name, field)
	}
	return nil
}

type keySchemaElem struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type throughputIn struct {
	ReadCapacityUnits  *int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits *int64 `json:"WriteCapacityUnits"`
}

type projectionIn struct {
	ProjectionType   string   `json:"ProjectionType"`
	NonKeyAttributes []string `json:"NonKeyAttributes"`
}

type gsiIn struct {
	IndexName             string          `json:"IndexName"`
	KeySchema             []keySchemaElem `json:"KeySchema"`
	Projection            *projectionIn   `json:"Projection"`
	ProvisionedThroughput *throughputIn   `json:"ProvisionedThroughput"`
}

type tagIn struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type createTableIn struct {
	TableName              *string         `json:"TableName"`
	AttributeDefinitions   []attrDef       `json:"AttributeDefinitions"`
	KeySchema              []keySchemaElem `json:"KeySchema"`
	BillingMode            string          `json:"BillingMode"`
	ProvisionedThroughput  *throughputIn   `json:"ProvisionedThroughput"`
	GlobalSecondaryIndexes []gsiIn         `json:"GlobalSecondaryIndexes"`
	LocalSecondaryIndexes  []any           `json:"LocalSecondaryIndexes"`
	Tags                   []tagIn         `json:"Tags"`
}

// parseKeySchema validates a KeySchema against the attribute definitions.
func parseKeySchema(ks []keySchemaElem, defs map[string]attr.Kind, used map[string]bool) (keyDef, error) {
	var k keyDef
	if len(ks) < 1 || len(ks) > 2 {
		return k, validation("1 validation error detected: Value '%v' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2 and greater than or equal to 1", ks)
	}
	if ks[0].KeyType != "HASH" {
		return k, validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
	}
	if len(ks) == 2 {
		if ks[1].KeyType != "RANGE" {
			return k, validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
		}
		if ks[0].AttributeName == ks[1].AttributeName {
			return k, validation("Both the Hash Key and the Range Key element in the KeySchema have the same name")
		}
	}
	for i, el := range ks {
		typ, ok := defs[el.AttributeName]
		if !ok {
			return k, invalidParam("Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", el.AttributeName, strings.Join(slices.Sorted(mapsKeys(defs)), ", "))
		}
		used[el.AttributeName] = true
		if i == 0 {
			k.Hash, k.HashType = el.AttributeName, typ
		} else {
			k.Range, k.RangeType = el.AttributeName, typ
		}
	}
	return k, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func checkThroughput(tp *throughputIn, billing, what string) (rcu, wcu int64, err error) {
	if billing == "PAY_PER_REQUEST" {
		if tp != nil && (tp.ReadCapacityUnits != nil && *tp.ReadCapacityUnits != 0 || tp.WriteCapacityUnits != nil && *tp.WriteCapacityUnits != 0) {
			return 0, 0, invalidParam("Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
		return 0, 0, nil
	}
	if tp == nil || tp.ReadCapacityUnits == nil || tp.WriteCapacityUnits == nil {
		if what != "" {
			return 0, 0, invalidParam("ProvisionedThroughput is not specified for index: %s", what)
		}
		return 0, 0, invalidParam("ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
	}
	if *tp.ReadCapacityUnits < 1 || *tp.WriteCapacityUnits < 1 {
		return 0, 0, validation("1 validation error detected: Value '%d' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1", min(*tp.ReadCapacityUnits, *tp.WriteCapacityUnits))
	}
	return *tp.ReadCapacityUnits, *tp.WriteCapacityUnits, nil
}

func parseGSI(g gsiIn, defs map[string]attr.Kind, used map[string]bool, billing string) (gsiMeta, error) {
	m := gsiMeta{Name: g.IndexName}
	if err := checkTableName("globalSecondaryIndexes.member.indexName", g.IndexName); err != nil {
		return m, err
	}
	k, err := parseKeySchema(g.KeySchema, defs, used)
	if err != nil {
		return m, err
	}
	m.Key = k
	if g.Projection == nil {
		return m, validation("1 validation error detected: Value null at 'globalSecondaryIndexes.1.member.projection' failed to satisfy constraint: Member must not be null")
	}
	m.ProjectionType = g.Projection.ProjectionType
	if m.ProjectionType == "" {
		m.ProjectionType = "KEYS_ONLY" // hmm: AWS requires it; the SDK always sends it
	}
	switch m.ProjectionType {
	case "ALL", "KEYS_ONLY":
		if len(g.Projection.NonKeyAttributes) > 0 {
			return m, invalidParam("ProjectionType is %s, but NonKeyAttributes is specified", m.ProjectionType)
		}
	case "INCLUDE":
		if len(g.Projection.NonKeyAttributes) == 0 {
			return m, invalidParam("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
		}
		m.NonKey = g.Projection.NonKeyAttributes
	default:
		return m, validation("1 validation error detected: Value '%s' at 'globalSecondaryIndexes.1.member.projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]", m.ProjectionType)
	}
	m.RCU, m.WCU, err = checkThroughput(g.ProvisionedThroughput, billing, g.IndexName)
	return m, err
}

func (e *Engine) createTable(body []byte) ([]byte, error) {
	var in createTableIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TableName == nil {
		return nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkTableName("tableName", *in.TableName); err != nil {
		return nil, err
	}
	if in.LocalSecondaryIndexes != nil {
		return nil, validation("LocalSecondaryIndexes are not supported by kinesislocal")
	}
	defs := map[string]attr.Kind{}
	for _, d := range in.AttributeDefinitions {
		k := attr.KindOf(d.AttributeType)
		if k != attr.S && k != attr.N && k != attr.B {
			return nil, validation("1 validation error detected: Value '%s' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", d.AttributeType)
		}
		if _, dup := defs[d.AttributeName]; dup {
			return nil, invalidParam("Duplicate AttributeName in AttributeDefinitions: %s", d.AttributeName)
		}
		defs[d.AttributeName] = k
	}
	billing := in.BillingMode
	if billing == "" {
		billing = "PROVISIONED"
	}
	if billing != "PROVISIONED" && billing != "PAY_PER_REQUEST" {
		return nil, validation("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", billing)
	}
	used := map[string]bool{}
	key, err := parseKeySchema(in.KeySchema, defs, used)
	if err != nil {
		return nil, err
	}
	m := tableMeta{Name: *in.TableName, Key: key, AttrDefs: in.AttributeDefinitions, Billing: billing}
	m.RCU, m.WCU, err = checkThroughput(in.ProvisionedThroughput, billing, "")
	if err != nil {
		return nil, err
	}
	if len(in.GlobalSecondaryIndexes) > 20 {
		return nil, validation("One or more parameter values were invalid: GlobalSecondaryIndexes count exceeds the per-table limit of 20")
	}
	for _, g := range in.GlobalSecondaryIndexes {
		gm, err := parseGSI(g, defs, used, billing)
		if err != nil {
			return nil, err
		}
		for _, o := range m.GSIs {
			if o.Name == gm.Name {
				return nil, invalidParam("Duplicate index name: %s", gm.Name)
			}
		}
		m.GSIs = append(m.GSIs, gm)
	}
	if len(used) != len(defs) {
		return nil, invalidParam("Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	for _, tg := range in.Tags {
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		m.Tags[tg.Key] = tg.Value
	}
	if old := e.tables[m.Name]; old != nil {
		if old.deleted.IsZero() || e.now().Before(old.deleted.Add(e.opts.StateDelay)) {
			return nil, inUse("Table already exists: %s", m.Name)
		}
	}
	m.Created = e.now()
	var id [16]byte
	rand.Read(id[:])
	h := hex.EncodeToString(id[:])
	m.ID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	if err := e.logSync([]mutation{{Table: m.Name, Meta: &m}}); err != nil {
		return nil, err
	}
	t := newTable(m)
	e.tables[m.Name] = t
	return marshal(map[string]any{"TableDescription": e.describe(t)})
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func keySchemaOut(k keyDef) []keySchemaElem {
	out := []keySchemaElem{{k.Hash, "HASH"}}
	if k.Range != "" {
		out = append(out, keySchemaElem{k.Range, "RANGE"})
	}
	return out
}

// describe renders a TableDescription. Called with e.mu held; takes t.mu.
func (e *Engine) describe(t *table) map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.meta
	now := e.now()
	status := t.status(now, e.opts.StateDelay)
	tp := map[string]any{"NumberOfDecreasesToday": 0, "ReadCapacityUnits": m.RCU, "WriteCapacityUnits": m.WCU}
	d := map[string]any{
		"TableName":                 m.Name,
		"TableArn":                  e.arn(m.Name),
		"TableId":                   m.ID,
		"TableStatus":               status,
		"CreationDateTime":          epoch(m.Created),
		"KeySchema":                 keySchemaOut(m.Key),
		"AttributeDefinitions":      m.AttrDefs,
		"ItemCount":                 len(t.entries),
		"TableSizeBytes":            t.bytes,
		"ProvisionedThroughput":     tp,
		"DeletionProtectionEnabled": false,
	}
	if m.Billing == "PAY_PER_REQUEST" {
		bs := map[string]any{"BillingMode": "PAY_PER_REQUEST"}
		if !m.BillingSet.IsZero() {
			bs["LastUpdateToPayPerRequestDateTime"] = epoch(m.BillingSet)
		} else {
			bs["LastUpdateToPayPerRequestDateTime"] = epoch(m.Created)
		}
		d["BillingModeSummary"] = bs
	} else if !m.BillingSet.IsZero() {
		d["BillingModeSummary"] = map[string]any{"BillingMode": "PROVISIONED"}
	}
	if len(m.GSIs) > 0 {
		var gs []map[string]any
		for i := range m.GSIs {
			g := &m.GSIs[i]
			idxStatus := t.gsiStatus(g, now, e.opts.StateDelay)
			count, size := 0, 0
			if idxStatus != "CREATING" {
				for _, en := range t.indexEntries(g) {
					count++
					size += t.projectIndex(g, en.item).Size()
				}
			}
			proj := map[string]any{"ProjectionType": g.ProjectionType}
			if len(g.NonKey) > 0 {
				proj["NonKeyAttributes"] = g.NonKey
			}
			gd := map[string]any{
				"IndexName": g.Name, "KeySchema": keySchemaOut(g.Key), "Projection": proj,
				"IndexStatus": idxStatus, "IndexArn": e.arn(m.Name) + "/index/" + g.Name,
				"ItemCount": count, "IndexSizeBytes": size,
				"ProvisionedThroughput": map[string]any{"NumberOfDecreasesToday": 0, "ReadCapacityUnits": g.RCU, "WriteCapacityUnits": g.WCU},
			}
			if idxStatus == "CREATING" && !g.Added.IsZero() {
				gd["Backfilling"] = true
			}
			gs = append(gs, gd)
		}
		d["GlobalSecondaryIndexes"] = gs
	}
	return d
}

type tableNameIn struct {
	TableName *string `json:"TableName"`
}

func (e *Engine) describeTable(body []byte) ([]byte, error) {
	var in tableNameIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TableName == nil {
		return nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	t := e.tables[*in.TableName]
	if t == nil || !t.deleted.IsZero() && !e.now().Before(t.deleted.Add(e.opts.StateDelay)) {
		return nil, notFound("Requested resource not found: Table: %s not found", *in.TableName)
	}
	return marshal(map[string]any{"Table": e.describe(t)})
}

func (e *Engine) deleteTable(body []byte) ([]byte, error) {
	var in tableNameIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TableName == nil {
		return nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	t, err := e.lookup(*in.TableName)
	if err != nil {
		return nil, err
	}
	if st := t.status(e.now(), e.opts.StateDelay); st != "ACTIVE" {
		return nil, inUse("Attempt to change a resource which is still in use: Table is being %s: %s", strings.ToLower(st), t.meta.Name)
	}
	if err := e.logSync([]mutation{{Table: t.meta.Name, Drop: true}}); err != nil {
		return nil, err
	}
	t.deleted = e.now()
	d := e.describe(t)
	if e.opts.StateDelay == 0 {
		delete(e.tables, t.meta.Name)
	}
	return marshal(map[string]any{"TableDescription": d})
}

func (e *Engine) listTables(body []byte) ([]byte, error) {
	var in struct {
		ExclusiveStartTableName *string `json:"ExclusiveStartTableName"`
		Limit                   *int    `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100 and greater than or equal to 1", *in.Limit)
		}
		limit = *in.Limit
	}
	now := e.now()
	var names []string
	for n, t := range e.tables {
		if !t.deleted.IsZero() && !now.Before(t.deleted.Add(e.opts.StateDelay)) {
			continue
		}
		if in.ExclusiveStartTableName != nil && n <= *in.ExclusiveStartTableName {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]any{}
	if len(names) > limit {
		names = names[:limit]
		out["LastEvaluatedTableName"] = names[limit-1]
	}
	if names == nil {
		names = []string{}
	}
	out["TableNames"] = names
	return marshal(out)
}

func (e *Engine) updateTable(body []byte) ([]byte, error) {
	var in struct {
		TableName                   *string       `json:"TableName"`
		BillingMode                 string        `json:"BillingMode"`
		ProvisionedThroughput       *throughputIn `json:"ProvisionedThroughput"`
		DeletionProtectionEnabled   *bool         `json:"DeletionProtectionEnabled"`
		AttributeDefinitions        []attrDef     `json:"AttributeDefinitions"`
		GlobalSecondaryIndexUpdates []struct {
			Create *gsiIn `json:"Create"`
			Delete *struct {
				IndexName string `json:"IndexName"`
			} `json:"Delete"`
			Update *struct {
				IndexName             string        `json:"IndexName"`
				ProvisionedThroughput *throughputIn `json:"ProvisionedThroughput"`
			} `json:"Update"`
		} `json:"GlobalSecondaryIndexUpdates"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TableName == nil {
		return nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	t, err := e.lookup(*in.TableName)
	if err != nil {
		return nil, err
	}
	if in.BillingMode == "" && in.ProvisionedThroughput == nil && in.DeletionProtectionEnabled == nil && in.GlobalSecondaryIndexUpdates == nil {
		return nil, validation("At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required")
	}
	if st := t.status(e.now(), e.opts.StateDelay); st != "ACTIVE" {
		return nil, inUse("Attempt to change a resource which is still in use: Table is being %s: %s", strings.ToLower(st), t.meta.Name)
	}
	m := t.meta
	m.GSIs = slices.Clone(m.GSIs)
	changed := false
	if in.BillingMode != "" {
		if in.BillingMode != "PROVISIONED" && in.BillingMode != "PAY_PER_REQUEST" {
			return nil, validation("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", in.BillingMode)
		}
		if in.BillingMode != m.Billing {
			m.Billing = in.BillingMode
			m.BillingSet = e.now()
			changed = true
			if m.Billing == "PAY_PER_REQUEST" {
				m.RCU, m.WCU = 0, 0
				for i := range m.GSIs {
					m.GSIs[i].RCU, m.GSIs[i].WCU = 0, 0
				}
			} else if in.ProvisionedThroughput == nil {
				return nil, invalidParam("ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
			} else {
				for i := range m.GSIs {
					m.GSIs[i].RCU, m.GSIs[i].WCU = 1, 1
				}
			}
		}
	}
	if in.ProvisionedThroughput != nil {
		r, w, err := checkThroughput(in.ProvisionedThroughput, m.Billing, "")
		if err != nil {
			return nil, err
		}
		if m.Billing == "PROVISIONED" && in.BillingMode == "" && r == m.RCU && w == m.WCU {
			return nil, validation("The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: %d. Requested ReadCapacityUnits: %d. Current WriteCapacityUnits provisioned for the table: %d. Requested WriteCapacityUnits: %d. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.", m.RCU, r, m.WCU, w)
		}
		m.RCU, m.WCU = r, w
		changed = true
	}
	if len(in.GlobalSecondaryIndexUpdates) > 0 {
		defs := map[string]attr.Kind{}
		for _, d := range append(slices.Clone(m.AttrDefs), in.AttributeDefinitions...) {
			defs[d.AttributeName] = attr.KindOf(d.AttributeType)
		}
		for _, u := range in.GlobalSecondaryIndexUpdates {
			switch {
			case u.Create != nil:
				gm, err := parseGSI(*u.Create, defs, map[string]bool{}, m.Billing)
				if err != nil {
					return nil, err
				}
				if t.gsi(gm.Name) != nil {
					return nil, validation("One or more parameter values were invalid: Index %s already exists", gm.Name)
				}
				gm.Added = e.now()
				m.GSIs = append(m.GSIs, gm)
			case u.Delete != nil:
				i := slices.IndexFunc(m.GSIs, func(g gsiMeta) bool { return g.Name == u.Delete.IndexName })
				if i < 0 {
					return nil, notFound("Requested resource not found: Index %s not found", u.Delete.IndexName)
				}
				m.GSIs = slices.Delete(m.GSIs, i, i+1)
			case u.Update != nil:
				i := slices.IndexFunc(m.GSIs, func(g gsiMeta) bool { return g.Name == u.Update.IndexName })
				if i < 0 {
					return nil, notFound("Requested resource not found: Index %s not found", u.Update.IndexName)
				}
				r, w, err := checkThroughput(u.Update.ProvisionedThroughput, m.Billing, u.Update.IndexName)
				if err != nil {
					return nil, err
				}
				m.GSIs[i].RCU, m.GSIs[i].WCU = r, w
			}
		}
		m.AttrDefs = mergeDefs(m.AttrDefs, in.AttributeDefinitions)
		changed = true
	}
	if changed {
		m.Updated = e.now()
		if err := e.logSync([]mutation{{Table: m.Name, Meta: &m}}); err != nil {
			return nil, err
		}
		t.mu.Lock()
		t.meta = m
		t.mu.Unlock()
	}
	return marshal(map[string]any{"TableDescription": e.describe(t)})
}

func mergeDefs(a, b []attrDef) []attrDef {
	out := slices.Clone(a)
	for _, d := range b {
		if !slices.ContainsFunc(out, func(x attrDef) bool { return x.AttributeName == d.AttributeName }) {
			out = append(out, d)
		}
	}
	return out
}

func (e *Engine) describeTTL(body []byte) ([]byte, error) {
	var in tableNameIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TableName == nil {
		return nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	t, err := e.lookup(*in.TableName)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if t.meta.TTLOn {
		d = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": t.meta.TTLAttr}
	}
	return marshal(map[string]any{"TimeToLiveDescription": d})
}

func (e *Engine) updateTTL(body []byte) ([]byte, error) {
	var in struct {
		TableName               *string `json:"TableName"`
		TimeToLiveSpecification *struct {
			Enabled       *bool   `json:"Enabled"`
			AttributeName *string `json:"AttributeName"`
		} `json:"TimeToLiveSpecification"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TableName == nil {
		return nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	spec := in.TimeToLiveSpecification
	if spec == nil || spec.Enabled == nil || spec.AttributeName == nil {
		return nil, validation("1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null")
	}
	if *spec.AttributeName == "" || len(*spec.AttributeName) > 255 {
		return nil, validation("1 validation error detected: Value '%s' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1", *spec.AttributeName)
	}
	t, err := e.active(in.TableName)
	if err != nil {
		return nil, err
	}
	m := t.meta
	switch {
	case *spec.Enabled && m.TTLOn:
		return nil, validation("TimeToLive is already enabled")
	case !*spec.Enabled && !m.TTLOn:
		return nil, validation("TimeToLive is already disabled")
	case !*spec.Enabled && *spec.AttributeName != m.TTLAttr:
		return nil, validation("TimeToLive is active on a different AttributeName: current AttributeName is %s", m.TTLAttr)
	}
	m.TTLOn = *spec.Enabled
	m.TTLAttr = *spec.AttributeName
	if !m.TTLOn {
		m.TTLAttr = ""
	}
	if err := e.logSync([]mutation{{Table: m.Name, Meta: &m}}); err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.meta = m
	t.mu.Unlock()
	return marshal(map[string]any{"TimeToLiveSpecification": map[string]any{"Enabled": *spec.Enabled, "AttributeName": *spec.AttributeName}})
}

var _ = fmt.Sprint
