package memlease_test

import (
	"testing"

	"github.com/shoal-go/shoal/lease"
	"github.com/shoal-go/shoal/lease/leasetest"
	"github.com/shoal-go/shoal/lease/memlease"
)

func TestConformance(t *testing.T) {
	leasetest.Run(t, func(t *testing.T) lease.Store { return memlease.New() })
}

func TestInvalidItems(t *testing.T) {
	leasetest.RunInvalid(t, func(t *testing.T) lease.Store { return memlease.New() },
		func(t *testing.T, s lease.Store, key string, c leasetest.Corruption) {
			s.(*memlease.Store).PutInvalid(c.Expected(key))
		})
}

func TestConformanceThroughFaulty(t *testing.T) {
	// The fault injector with no rules must be transparent.
	leasetest.Run(t, func(t *testing.T) lease.Store { return leasetest.NewFaulty(memlease.New()) })
}
