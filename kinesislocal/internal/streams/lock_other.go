//go:build !unix

package streams

import "os"

// lockDir is a no-op where flock is unavailable: do not share a DataDir between engines.
func lockDir(dir string) (*os.File, error) { return nil, nil }
