package ddb

import (
	"maps"
	"slices"
	"strings"
)

// tableFromARN returns the live table an ARN of this engine names.
func (e *Engine) tableFromARN(arn *string) (*table, error) {
	if arn == nil {
		return nil, nullMember("resourceArn")
	}
	prefix := e.arn("")
	name, ok := strings.CutPrefix(*arn, prefix)
	if !ok || strings.Contains(name, "/") {
		return nil, validation("Invalid TableArn: Invalid ResourceArn provided as input %s", *arn)
	}
	t := e.tables[name]
	if t == nil || !t.deleted.IsZero() {
		return nil, notFound("Requested resource not found: ResourcArn: %s not found", *arn)
	}
	return t, nil
}

func (e *Engine) tagResource(body []byte) ([]byte, error) {
	var in struct {
		ResourceArn *string `json:"ResourceArn"`
		Tags        []tagIn `json:"Tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := e.tableFromARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, validation("1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	m := t.meta
	m.Tags = maps.Clone(m.Tags)
	if m.Tags == nil {
		m.Tags = map[string]string{}
	}
	for _, tg := range in.Tags {
		if tg.Key == "" {
			return nil, validation("1 validation error detected: Value '' at 'tags.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		m.Tags[tg.Key] = tg.Value
	}
	if len(m.Tags) > 50 {
		return nil, validation("One or more parameter values were invalid: The number of tags exceeds the limit of 50")
	}
	return e.setMeta(t, m, []byte("{}"))
}

func (e *Engine) untagResource(body []byte) ([]byte, error) {
	var in struct {
		ResourceArn *string  `json:"ResourceArn"`
		TagKeys     []string `json:"TagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := e.tableFromARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	m := t.meta
	m.Tags = maps.Clone(m.Tags)
	for _, k := range in.TagKeys {
		delete(m.Tags, k)
	}
	return e.setMeta(t, m, []byte("{}"))
}

func (e *Engine) listTags(body []byte) ([]byte, error) {
	var in struct {
		ResourceArn *string `json:"ResourceArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := e.tableFromARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tags := []tagIn{}
	for _, k := range slices.Sorted(maps.Keys(t.meta.Tags)) {
		tags = append(tags, tagIn{Key: k, Value: t.meta.Tags[k]})
	}
	return marshal(map[string]any{"Tags": tags})
}

// setMeta logs and installs new table metadata (caller holds e.mu exclusively), then answers out.
func (e *Engine) setMeta(t *table, m tableMeta, out []byte) ([]byte, error) {
	if err := e.logSync([]mutation{{Table: m.Name, Meta: &m}}); err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.meta = m
	t.mu.Unlock()
	return out, nil
}

func continuousBackups(on bool) map[string]any {
	st := "DISABLED"
	if on {
		st = "ENABLED"
	}
	return map[string]any{"ContinuousBackupsDescription": map[string]any{
		"ContinuousBackupsStatus":        "ENABLED",
		"PointInTimeRecoveryDescription": map[string]any{"PointInTimeRecoveryStatus": st},
	}}
}

func (e *Engine) describeContinuousBackups(body []byte) ([]byte, error) {
	var in tableNameIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TableName == nil {
		return nil, nullMember("tableName")
	}
	t, err := e.lookup(*in.TableName)
	if err != nil {
		return nil, notFound("Table not found: %s", *in.TableName)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return marshal(continuousBackups(t.meta.PITR))
}

func (e *Engine) updateContinuousBackups(body []byte) ([]byte, error) {
	var in struct {
		TableName                        *string `json:"TableName"`
		PointInTimeRecoverySpecification *struct {
			PointInTimeRecoveryEnabled *bool `json:"PointInTimeRecoveryEnabled"`
		} `json:"PointInTimeRecoverySpecification"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TableName == nil {
		return nil, nullMember("tableName")
	}
	spec := in.PointInTimeRecoverySpecification
	if spec == nil || spec.PointInTimeRecoveryEnabled == nil {
		return nil, nullMember("pointInTimeRecoverySpecification")
	}
	t, err := e.lookup(*in.TableName)
	if err != nil {
		return nil, notFound("Table not found: %s", *in.TableName)
	}
	m := t.meta
	m.PITR = *spec.PointInTimeRecoveryEnabled
	b, err := marshal(continuousBackups(m.PITR))
	if err != nil {
		return nil, err
	}
	return e.setMeta(t, m, b)
}

func (e *Engine) describeLimits(body []byte) ([]byte, error) {
	var in struct{}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return marshal(map[string]any{"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
		"TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000})
}
