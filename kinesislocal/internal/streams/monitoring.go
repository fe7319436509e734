package streams

import (
	"context"
	"sort"

	"github.com/shoal-go/shoal/kinesislocal/internal/awsproto"
)

// Enhanced (shard-level) monitoring is recorded and reported; no metrics are produced.

var shardMetrics = []string{"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
	"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"}

type monitoringReq struct {
	streamRef
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

func (e *Engine) enableMonitoring(_ context.Context, body []byte) ([]byte, error) {
	return e.changeMonitoring(body, true)
}

func (e *Engine) disableMonitoring(_ context.Context, body []byte) ([]byte, error) {
	return e.changeMonitoring(body, false)
}

// expandMetrics validates metric names and expands ALL.
func expandMetrics(names []string) ([]string, error) {
	if len(names) < 1 || len(names) > 7 {
		return nil, errf(awsproto.Validation, "1 validation error detected: Value at 'shardLevelMetrics' failed to satisfy constraint: Member must have length between 1 and 7")
	}
	var out []string
	for _, n := range names {
		if n == "ALL" {
			return shardMetrics, nil
		}
		ok := false
		for _, m := range shardMetrics {
			ok = ok || m == n
		}
		if !ok {
			return nil, errf(awsproto.Validation, "1 validation error detected: Value '%s' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy enum value set: [IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]", n)
		}
		out = append(out, n)
	}
	return out, nil
}

func (e *Engine) changeMonitoring(body []byte, enable bool) ([]byte, error) {
	var metrics, current []string
	return changeStream(e, body, streamChange[monitoringReq]{
		check: func(req *monitoringReq) (err error) {
			metrics, err = expandMetrics(req.ShardLevelMetrics)
			return err
		},
		decide: func(s *stream, _ int64, _ *monitoringReq) (ctlEvent, error) {
			current = s.monitoringList()
			if enable {
				return ctlEvent{T: evMonitoring, Keys: metrics}, nil
			}
			return ctlEvent{T: evNoMonitoring, Keys: metrics}, nil
		},
		reply: func(s *stream, _ *monitoringReq, _ *ctlEvent) ([]byte, error) {
			return marshal(map[string]any{"StreamName": s.name, "StreamARN": s.arn,
				"CurrentShardLevelMetrics": current, "DesiredShardLevelMetrics": s.monitoringList()})
		},
	})
}

// applyMonitoring turns metrics on or off. Callers hold s.mu for writing.
func (s *stream) applyMonitoring(metrics []string, enable bool) {
	if s.monitoring == nil {
		s.monitoring = map[string]bool{}
	}
	for _, m := range metrics {
		if enable {
			s.monitoring[m] = true
		} else {
			delete(s.monitoring, m)
		}
	}
}

// monitoringList returns the enabled metrics, sorted. Callers hold s.mu.
func (s *stream) monitoringList() []string {
	out := make([]string, 0, len(s.monitoring))
	for m := range s.monitoring {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
