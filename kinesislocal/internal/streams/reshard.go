package streams

import (
	"context"
	"encoding/json"
	"regexp"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

var hashKeyPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,38})$`)

// childShardsJSON encodes the ChildShards of a closed shard. Callers hold s.mu.
func (s *stream) childShardsJSON(sh *shard) []byte {
	type child struct {
		ShardId      string        `json:"ShardId"`
		ParentShards []string      `json:"ParentShards"`
		HashKeyRange hashRangeJSON `json:"HashKeyRange"`
	}
	var out []child
	for _, c := range s.shards[sh.idx+1:] {
		if c.parent != sh.id && c.adjParent != sh.id {
			continue
		}
		ps := []string{c.parent}
		if c.adjParent != "" {
			ps = append(ps, c.adjParent)
		}
		out = append(out, child{c.id, ps, hashRangeJSON{c.start.String(), c.end.String()}})
	}
	b, _ := json.Marshal(out)
	return b
}

// applySplit closes sh and opens two children split at key (sh.start < key <= sh.end). Callers
// hold s.mu for writing and call rebuildOpen afterwards.
func (s *stream) applySplit(sh *shard, key u128, nowMs int64) (*shard, *shard) {
	sh.closeAt(nowMs)
	l := newShard(len(s.shards), sh.start, key.sub1(), nowMs)
	r := newShard(len(s.shards)+1, key, sh.end, nowMs)
	l.parent, r.parent = sh.id, sh.id
	s.shards = append(s.shards, l, r)
	return l, r
}

// applyMerge closes a and b (adjacent) and opens their child. Callers hold s.mu for writing and
// call rebuildOpen afterwards.
func (s *stream) applyMerge(a, b *shard, nowMs int64) *shard {
	a.closeAt(nowMs)
	b.closeAt(nowMs)
	start, end := a.start, b.end
	if b.start.cmp(a.start) < 0 {
		start, end = b.start, a.end
	}
	c := newShard(len(s.shards), start, end, nowMs)
	c.parent, c.adjParent = a.id, b.id
	s.shards = append(s.shards, c)
	return c
}

// applyScale reshapes the open shards into target uniform ranges by splits, then merges, so the
// lineage stays a valid split/merge history. Callers hold s.mu for writing.
func (s *stream) applyScale(target int, nowMs int64) {
	ranges := evenRanges(target)
	// Split every open shard at each target boundary strictly inside it.
	open := append([]*shard(nil), s.open...)
	var pieces []*shard
	for _, sh := range open {
		cur := sh
		for _, r := range ranges[1:] {
			b := r[0]
			if cur.start.cmp(b) < 0 && b.cmp(cur.end) <= 0 {
				left, right := s.applySplit(cur, b, nowMs)
				pieces = append(pieces, left)
				cur = right
			}
		}
		pieces = append(pieces, cur)
	}
	// Merge the pieces of each target range, left to right.
	i := 0
	for _, r := range ranges {
		cur := pieces[i]
		i++
		for i < len(pieces) && pieces[i].end.cmp(r[1]) <= 0 {
			cur = s.applyMerge(cur, pieces[i], nowMs)
			i++
		}
	}
	s.rebuildOpen()
}

// --- SplitShard ---

type splitReq struct {
	streamRef
	ShardToSplit       *string `json:"ShardToSplit"`
	NewStartingHashKey *string `json:"NewStartingHashKey"`
}

func (e *Engine) splitShard(_ context.Context, body []byte) ([]byte, error) {
	var key u128
	return changeStream(e, body, streamChange[splitReq]{
		check: func(req *splitReq) error {
			if req.ShardToSplit == nil || req.NewStartingHashKey == nil {
				return errf(awsproto.Validation, "1 validation error detected: ShardToSplit and NewStartingHashKey must not be null")
			}
			if err := validName("shardToSplit", *req.ShardToSplit); err != nil {
				return err
			}
			if !hashKeyPattern.MatchString(*req.NewStartingHashKey) {
				return errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'newStartingHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})", *req.NewStartingHashKey)
			}
			var ok bool
			if key, ok = parseU128(*req.NewStartingHashKey); !ok {
				return errf(awsproto.InvalidArgument, "NewStartingHashKey %s is outside the hash key range [0, 2^128-1].", *req.NewStartingHashKey)
			}
			return nil
		},
		provisionedOnly: true,
		decide: func(s *stream, now int64, req *splitReq) (ctlEvent, error) {
			sh, err := e.reshardable(s, now, *req.ShardToSplit)
			if err != nil {
				return ctlEvent{}, err
			}
			if key.cmp(sh.start.add1()) <= 0 || key.cmp(sh.end) >= 0 {
				return ctlEvent{}, errf(awsproto.InvalidArgument, "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.", *req.NewStartingHashKey, sh.id, s.name, e.opts.AccountID, sh.start, sh.end)
			}
			if err := e.checkShardLimit(1); err != nil {
				return ctlEvent{}, err
			}
			return ctlEvent{T: evSplit, Shard: sh.idx, Key: key.String()}, nil
		},
	})
}

// reshardable checks that id names an open shard of s. Callers hold s.mu.
func (e *Engine) reshardable(s *stream, now int64, id string) (*shard, error) {
	sh := s.shardByID(id)
	if sh == nil || s.expired(sh, now) {
		return nil, e.shardNotFound(s, id)
	}
	if sh.closedAt != 0 {
		return nil, errf(awsproto.InvalidArgument, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", sh.id, s.name, e.opts.AccountID)
	}
	return sh, nil
}

func (e *Engine) checkShardLimit(extra int) error {
	if n := int(e.openShards.Load()); n+extra > e.opts.ShardLimit {
		return errf(awsproto.LimitExceeded, "This request would exceed the shard limit for the account %s in %s. Current shard count for the account: %d. Limit: %d. Number of additional shards that would have resulted from this request: %d.", e.opts.AccountID, e.opts.Region, n, e.opts.ShardLimit, extra)
	}
	return nil
}

// --- MergeShards ---

type mergeReq struct {
	streamRef
	ShardToMerge         *string `json:"ShardToMerge"`
	AdjacentShardToMerge *string `json:"AdjacentShardToMerge"`
}

func (e *Engine) mergeShards(_ context.Context, body []byte) ([]byte, error) {
	return changeStream(e, body, streamChange[mergeReq]{
		check: func(req *mergeReq) error {
			if req.ShardToMerge == nil || req.AdjacentShardToMerge == nil {
				return errf(awsproto.Validation, "1 validation error detected: ShardToMerge and AdjacentShardToMerge must not be null")
			}
			if err := validName("shardToMerge", *req.ShardToMerge); err != nil {
				return err
			}
			return validName("adjacentShardToMerge", *req.AdjacentShardToMerge)
		},
		provisionedOnly: true,
		decide: func(s *stream, now int64, req *mergeReq) (ctlEvent, error) {
			a, err := e.reshardable(s, now, *req.ShardToMerge)
			if err != nil {
				return ctlEvent{}, err
			}
			b, err := e.reshardable(s, now, *req.AdjacentShardToMerge)
			if err != nil {
				return ctlEvent{}, err
			}
			if a == b || !(adjacent(a, b) || adjacent(b, a)) {
				return ctlEvent{}, errf(awsproto.InvalidArgument, "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging", a.id, b.id, s.name, e.opts.AccountID)
			}
			return ctlEvent{T: evMerge, Shard: a.idx, Shard2: b.idx}, nil
		},
	})
}

// --- UpdateShardCount ---

type updateShardCountReq struct {
	streamRef
	TargetShardCount *int    `json:"TargetShardCount"`
	ScalingType      *string `json:"ScalingType"`
}

const scaleWindowMs = 24 * 3600_000

func (e *Engine) updateShardCount(_ context.Context, body []byte) ([]byte, error) {
	var cur int
	return changeStream(e, body, streamChange[updateShardCountReq]{
		check: func(req *updateShardCountReq) error {
			if req.TargetShardCount == nil || req.ScalingType == nil {
				return errf(awsproto.Validation, "1 validation error detected: TargetShardCount and ScalingType must not be null")
			}
			if *req.ScalingType != "UNIFORM_SCALING" {
				return errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set: [UNIFORM_SCALING]", *req.ScalingType)
			}
			if target := *req.TargetShardCount; target < 1 || target > 100000 {
				return errf(awsproto.Validation, "1 validation error detected: Value '%d' at 'targetShardCount' failed to satisfy constraint: Member must have value between 1 and 100000", target)
			}
			return nil
		},
		provisionedOnly: true,
		decide: func(s *stream, now int64, req *updateShardCountReq) (ctlEvent, error) {
			target := *req.TargetShardCount
			cur = len(s.open)
			if target > 2*cur {
				return ctlEvent{}, errf(awsproto.LimitExceeded, "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: %d Target shard count: %d", cur, target)
			}
			if 2*target < cur {
				return ctlEvent{}, errf(awsproto.LimitExceeded, "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: %d Target shard count: %d", cur, target)
			}
			if target > 10000 {
				return ctlEvent{}, errf(awsproto.LimitExceeded, "UpdateShardCount cannot scale a stream above 10000 shards.")
			}
			recent := s.scaleOps[:0] // bookkeeping: forget scalings older than the window
			for _, t := range s.scaleOps {
				if now-t < scaleWindowMs {
					recent = append(recent, t)
				}
			}
			s.scaleOps = recent
			if len(recent) >= 10 {
				return ctlEvent{}, errf(awsproto.LimitExceeded, "Stream %s under account %s has already been scaled 10 times in the last 24 hours.", s.name, e.opts.AccountID)
			}
			if target > cur {
				if err := e.checkShardLimit(target - cur); err != nil {
					return ctlEvent{}, err
				}
			}
			return ctlEvent{T: evScale, N: target}, nil
		},
		reply: func(s *stream, req *updateShardCountReq, _ *ctlEvent) ([]byte, error) {
			return marshal(map[string]any{"StreamName": s.name, "StreamARN": s.arn, "CurrentShardCount": cur, "TargetShardCount": *req.TargetShardCount})
		},
	})
}

// adjacent reports whether b's range starts right after a's.
func adjacent(a, b *shard) bool { return a.end != maxU128 && a.end.add1() == b.start }
