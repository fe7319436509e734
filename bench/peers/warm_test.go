package peers

import (
	"context"
	"fmt"
	"testing"

	"github.com/shoal-go/shoal/kpl"
)

// warmUp runs each producer once, untimed, over 300,000 records against a
// fresh kinesislocal stream; the CPU benchmarks call it before their first
// sub-benchmark. Without it the first sub-benchmark of a benchmark pays for
// growing the heap (page faults, sys time counted in CPU seconds): measured
// at 25-30 % fewer records/cpu-s for either producer when it ran first, and
// shoal runs first.
func warmUp(b *testing.B) {
	{
		data := make([]byte, 100)
		ctx := context.Background()
		c := newStream(b)
		p, err := kpl.New(kpl.Config{Client: c, StreamName: "s", DisableRateLimit: true})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 300_000 {
			if err := p.Put(ctx, kpl.Record{PartitionKey: fmt.Sprint("warm-", i%1000), Data: data}, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Close(ctx); err != nil {
			b.Fatal(err)
		}
		a, _ := newA8m(newStream(b))
		for i := range 300_000 {
			if err := a.Put(data, fmt.Sprint("warm-", i%1000)); err != nil {
				b.Fatal(err)
			}
		}
		a.Stop()
	}
}
