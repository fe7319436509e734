package kinesislocal

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/shoal-go/shoal/kinesislocal/internal/ddb"
	"github.com/shoal-go/shoal/kinesislocal/internal/streams"
	"github.com/shoal-go/shoal/kinesislocal/internal/wal"
)

// DamageError is the error New returns (wrapped) when a log under Options.DataDir is damaged
// before its tail: the file, the byte offset and length of the damaged range, why it does not
// check and, when the record's header survived, what it held. New changes nothing in that case;
// Repair (or Options.Repair) keeps every intact record and moves the damaged bytes aside.
type DamageError = wal.DamageError

// Damage is one damaged byte range of a log.
type Damage = wal.Damage

// RepairReport says what Repair did to one log: intact records kept and the damaged ranges
// moved aside (empty when the log needed no repair).
type RepairReport = wal.RepairReport

// Repair repairs the logs under dataDir (kinesis/streams.log and dynamodb/dynamodb.log) so that
// New can open them: every intact record before and after any damage is kept, each damaged byte
// range is moved to LOG.damaged-OFFSET next to the log, and the report lists the ranges and what
// could be identified in them (stream and shard, or table and key). An undamaged log is not
// changed. It blocks; the directory must not be in use. Each repair is also logged on logger
// (nil: discard).
func Repair(dataDir string, logger *slog.Logger) ([]RepairReport, error) {
	if dataDir == "" {
		return nil, errors.New("kinesislocal: Repair needs a data directory")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var reports []RepairReport
	var errs []error
	for _, r := range []struct {
		sub    string
		repair func(string, *slog.Logger) (wal.RepairReport, error)
	}{{"kinesis", streams.Repair}, {"dynamodb", ddb.Repair}} {
		rep, err := r.repair(filepath.Join(dataDir, r.sub), logger)
		if err != nil {
			errs = append(errs, fmt.Errorf("kinesislocal: repair %s state: %w", r.sub, err))
			continue
		}
		if rep.Path != "" {
			reports = append(reports, rep)
		}
	}
	return reports, errors.Join(errs...)
}
