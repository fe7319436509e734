package kinesislocal_test

import (
	"testing"

	"github.com/shoal-go/shoal/internal/synctestrace"
)

// TestMain works around a race-detector crash in synctest bubbles (see internal/synctestrace).
func TestMain(m *testing.M) { synctestrace.Main(m) }
