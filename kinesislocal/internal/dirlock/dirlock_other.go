//go:build !unix

package dirlock

import "os"

// Lock is a no-op where flock is unavailable: do not share a data directory between engines.
func Lock(dir string) (*os.File, error) { return nil, nil }
