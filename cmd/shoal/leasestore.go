package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/dynamolease"
)

// newLeaseStore returns the DynamoDB lease store for table (created on first use by the
// consumer's lease coordinator).
func newLeaseStore(_ context.Context, db *dynamodb.Client, table string) (lease.Store, error) {
	return dynamolease.New(db, dynamolease.Options{Table: table})
}
