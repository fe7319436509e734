package streams

import (
	"context"
	"sort"
	"unicode/utf8"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// validTags checks tag keys (1..128 characters) and values (0..256 characters) and that there are
// at most max of them.
func validTags(tags map[string]string, max int) error {
	if len(tags) > max {
		return errf(awsproto.Validation, "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", max)
	}
	for k, v := range tags {
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
			return errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'tags' failed to satisfy constraint: Map keys must have length between 1 and 128", k)
		}
		if utf8.RuneCountInString(v) > 256 {
			return errf(awsproto.Validation, "1 validation error detected: Value at 'tags.%s' failed to satisfy constraint: Member must have length less than or equal to 256", k)
		}
	}
	return nil
}

type addTagsReq struct {
	streamRef
	Tags map[string]string `json:"Tags"`
}

func (e *Engine) addTags(_ context.Context, body []byte) ([]byte, error) {
	return changeStream(e, body, streamChange[addTagsReq]{
		check: func(req *addTagsReq) error {
			if len(req.Tags) == 0 {
				return errf(awsproto.Validation, "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1")
			}
			return validTags(req.Tags, 200)
		},
		decide: func(s *stream, _ int64, req *addTagsReq) (ctlEvent, error) {
			n := len(s.tags)
			for k := range req.Tags {
				if _, ok := s.tags[k]; !ok {
					n++
				}
			}
			if n > 50 {
				return ctlEvent{}, errf(awsproto.InvalidArgument, "Failed to add tags to stream %s under account %s because a given stream cannot have more than 50 tags associated with it.", s.name, e.opts.AccountID)
			}
			return ctlEvent{T: evTags, Tags: req.Tags}, nil
		},
	})
}

type removeTagsReq struct {
	streamRef
	TagKeys []string `json:"TagKeys"`
}

func (e *Engine) removeTags(_ context.Context, body []byte) ([]byte, error) {
	return changeStream(e, body, streamChange[removeTagsReq]{
		check: func(req *removeTagsReq) error {
			if len(req.TagKeys) < 1 || len(req.TagKeys) > 50 {
				return errf(awsproto.Validation, "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must have length between 1 and 50")
			}
			for _, k := range req.TagKeys {
				if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
					return errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'tagKeys' failed to satisfy constraint: Member must have length between 1 and 128", k)
				}
			}
			return nil
		},
		decide: func(_ *stream, _ int64, req *removeTagsReq) (ctlEvent, error) {
			return ctlEvent{T: evUntag, Keys: req.TagKeys}, nil
		},
	})
}

type listTagsReq struct {
	streamRef
	ExclusiveStartTagKey *string `json:"ExclusiveStartTagKey"`
	Limit                *int    `json:"Limit"`
}

type tagJSON struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (e *Engine) listTags(_ context.Context, body []byte) ([]byte, error) {
	var req listTagsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	limit, err := intParam(req.Limit, "limit", 50, 50)
	if err != nil {
		return nil, err
	}
	s, err := e.lookupReq(req.StreamName, req.StreamARN)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	keys := make([]string, 0, len(s.tags))
	for k := range s.tags {
		if req.ExclusiveStartTagKey == nil || k > *req.ExclusiveStartTagKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	tags := make([]tagJSON, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, tagJSON{k, s.tags[k]})
	}
	s.mu.RUnlock()
	return marshal(struct {
		Tags        []tagJSON `json:"Tags"`
		HasMoreTags bool      `json:"HasMoreTags"`
	}{tags, more})
}
