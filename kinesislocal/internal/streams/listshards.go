package streams

import (
	"context"
	"math"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

type shardFilterJSON struct {
	Type      *string  `json:"Type"`
	ShardId   *string  `json:"ShardId"`
	Timestamp *float64 `json:"Timestamp"`
}

type listShardsReq struct {
	streamRef
	NextToken               *string          `json:"NextToken"`
	ExclusiveStartShardId   *string          `json:"ExclusiveStartShardId"`
	MaxResults              *int             `json:"MaxResults"`
	StreamCreationTimestamp *float64         `json:"StreamCreationTimestamp"`
	ShardFilter             *shardFilterJSON `json:"ShardFilter"`
}

// listShardsToken is the state carried by a ListShards NextToken.
type listShardsToken struct {
	Stream  string `json:"s"`
	Created int64  `json:"c"`
	After   int    `json:"a"`
	Filter  string `json:"f"`
	Ms      int64  `json:"t"`
}

// shardFilter decides which shards ListShards returns. Pure: depends only on its fields.
type shardFilter struct {
	typ string
	ms  int64 // AT_/FROM_TIMESTAMP time, or the trim horizon for AT_TRIM_HORIZON
}

// openAt reports whether sh was open at time t.
func openAt(sh *shard, t int64) bool {
	return sh.created <= t && (sh.closedAt == 0 || sh.closedAt > t)
}

// match applies the filter to a shard that has not expired. horizon is the trim horizon and
// created the stream's creation time.
func (f shardFilter) match(sh *shard, horizon, created int64) bool {
	switch f.typ {
	case "AT_LATEST":
		return sh.closedAt == 0
	case "AT_TRIM_HORIZON":
		return openAt(sh, max(horizon, created))
	case "AT_TIMESTAMP":
		return openAt(sh, max(f.ms, horizon, created))
	case "FROM_TIMESTAMP":
		t := max(f.ms, horizon)
		return sh.closedAt == 0 || sh.closedAt >= t
	default: // FROM_TRIM_HORIZON, AFTER_SHARD_ID and no filter: everything within retention
		return true
	}
}

func (e *Engine) listShards(_ context.Context, body []byte) ([]byte, error) {
	var req listShardsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	max := 1000
	if req.MaxResults != nil {
		max = *req.MaxResults
		if max < 1 || max > 10000 {
			return nil, errf(awsproto.Validation, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000", max)
		}
		if max > 1000 {
			max = 1000
		}
	}
	var tok listShardsToken
	var filter shardFilter
	after := -1
	if req.NextToken != nil {
		if req.StreamName != nil || req.StreamARN != nil {
			return nil, errf(awsproto.InvalidArgument, "NextToken and StreamName cannot be provided together.")
		}
		if req.ExclusiveStartShardId != nil || req.ShardFilter != nil || req.StreamCreationTimestamp != nil {
			return nil, errf(awsproto.InvalidArgument, "NextToken cannot be provided together with ExclusiveStartShardId, ShardFilter or StreamCreationTimestamp.")
		}
		if err := e.parseToken("ListShards", *req.NextToken, &tok); err != nil {
			return nil, err
		}
		filter = shardFilter{typ: tok.Filter, ms: tok.Ms}
		after = tok.After
	} else {
		if req.ExclusiveStartShardId != nil {
			if err := validName("exclusiveStartShardId", *req.ExclusiveStartShardId); err != nil {
				return nil, err
			}
			after = shardOrder(*req.ExclusiveStartShardId)
		}
		if f := req.ShardFilter; f != nil {
			if f.Type == nil {
				return nil, nullErr("shardFilter.type")
			}
			filter.typ = *f.Type
			switch *f.Type {
			case "AFTER_SHARD_ID":
				if f.ShardId == nil {
					return nil, errf(awsproto.InvalidArgument, "Must specify ShardId for ShardFilter type AFTER_SHARD_ID.")
				}
				if err := validName("shardFilter.shardId", *f.ShardId); err != nil {
					return nil, err
				}
				after = max2(after, shardOrder(*f.ShardId))
			case "AT_TIMESTAMP", "FROM_TIMESTAMP":
				if f.Timestamp == nil || math.IsNaN(*f.Timestamp) {
					return nil, errf(awsproto.InvalidArgument, "Must specify Timestamp for ShardFilter type %s.", *f.Type)
				}
				filter.ms = int64(math.Floor(*f.Timestamp * 1000))
			case "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST":
			default:
				return nil, errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]", *f.Type)
			}
			if (*f.Type == "AT_TIMESTAMP" || *f.Type == "FROM_TIMESTAMP") && f.ShardId != nil {
				return nil, errf(awsproto.InvalidArgument, "ShardId cannot be specified for ShardFilter type %s.", *f.Type)
			}
		}
	}
	var s *stream
	var err error
	if req.NextToken != nil {
		s, err = e.lookup(tok.Stream)
		if err == nil && s.created != tok.Created {
			err = e.notFound(tok.Stream)
		}
	} else {
		s, err = e.lookupReq(req.StreamName, req.StreamARN)
		if err == nil && req.StreamCreationTimestamp != nil && int64(math.Floor(*req.StreamCreationTimestamp*1000))/1000 != s.created/1000 {
			err = e.notFound(s.name)
		}
	}
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	s.mu.RLock()
	if st, _ := s.status(now, e.delayMs); st == statusCreating {
		s.mu.RUnlock()
		return nil, errf(awsproto.ResourceInUse, "Stream %s under account %s is in CREATING state.", s.name, e.opts.AccountID)
	}
	horizon := now - s.retentionMs()
	out := make([]shardJSON, 0)
	last := -1
	more := false
	for _, sh := range s.visibleShards(now) {
		if sh.idx <= after || !filter.match(sh, horizon, s.created) {
			continue
		}
		if len(out) == max {
			more = true
			break
		}
		out = append(out, toShardJSON(sh))
		last = sh.idx
	}
	name, created := s.name, s.created
	s.mu.RUnlock()
	resp := struct {
		Shards    []shardJSON `json:"Shards"`
		NextToken string      `json:"NextToken,omitempty"`
	}{Shards: out}
	if more {
		resp.NextToken = e.makeToken("ListShards", listShardsToken{Stream: name, Created: created, After: last, Filter: filter.typ, Ms: filter.ms})
	}
	return marshal(resp)
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}
