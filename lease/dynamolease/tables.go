package dynamolease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Init creates the lease table (hash key leaseKey) and the worker table (hash key workerId) if
// they do not exist, and waits until both are ACTIVE (up to Options.ActiveTimeout). It blocks; it
// is safe to call from several processes at once (a concurrent creation is waited for).
// Coordinator.Run calls it.
func (st *Store) Init(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, st.opts.ActiveTimeout)
	defer cancel()
	for _, t := range []struct{ name, key string }{{st.opts.Table, attrKey}, {st.opts.WorkerTable, attrWorkerID}} {
		if err := st.ensureTable(ctx, t.name, t.key); err != nil {
			return err
		}
	}
	return nil
}

func (st *Store) ensureTable(ctx context.Context, name, key string) error {
	status, err := st.status(ctx, name)
	if err != nil {
		return err
	}
	if status == "" {
		in := &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(key), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(key), KeyType: types.KeyTypeHash}},
			BillingMode:          st.opts.BillingMode,
		}
		if st.opts.BillingMode == types.BillingModeProvisioned {
			in.ProvisionedThroughput = &types.ProvisionedThroughput{
				ReadCapacityUnits: aws.Int64(st.opts.ReadCapacity), WriteCapacityUnits: aws.Int64(st.opts.WriteCapacity),
			}
		}
		_, err := st.api.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return translate("create table", name, err, err)
		}
	}
	for {
		status, err := st.status(ctx, name)
		if err != nil {
			return err
		}
		if status == types.TableStatusActive {
			return nil
		}
		t := time.NewTimer(st.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for table %s to become ACTIVE (status %s): %w", name, status, ctx.Err())
		case <-t.C:
		}
	}
}

// status returns the table's status, or "" if it does not exist.
func (st *Store) status(ctx context.Context, name string) (types.TableStatus, error) {
	out, err := st.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) {
		return "", nil
	}
	if err != nil {
		return "", translate("describe table", name, err, err)
	}
	if out.Table == nil {
		return "", fmt.Errorf("describe table %s: no table description", name)
	}
	return out.Table.TableStatus, nil
}
