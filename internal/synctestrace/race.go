//go:build race

package synctestrace

const raceEnabled = true
