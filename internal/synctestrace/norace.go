//go:build !race

package synctestrace

const raceEnabled = false
