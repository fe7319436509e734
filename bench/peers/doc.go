// Package peers compares Shoal's producer (package kpl) with Go producers we
// did not write, against the same in-process kinesislocal server. It is a
// separate module so that the core module never depends on them.
//
//	cd bench/peers && go test -run . -bench . -benchtime 200000x
//
// Peers: github.com/a8m/kinesis-producer v0.2.0 (aws-sdk-go v1 types; its
// Putter is adapted to an aws-sdk-go-v2 client so both producers use the
// same SDK and transport and the comparison measures the producers).
package peers
