package aggregate_test

import (
	"fmt"

	"github.com/shoal-go/shoal/aggregate"
)

// A producer packs records for one shard into an aggregate, capped at a
// size, and puts the outer record; a consumer decodes it back.
func Example() {
	const maxAggregate = 50 << 10 // the KPL default, 50 KiB

	var e aggregate.Encoder
	for _, r := range []aggregate.Record{
		{PartitionKey: "user-1", Data: []byte("login")},
		{PartitionKey: "user-2", Data: []byte("click")},
		{PartitionKey: "user-1", Data: []byte("logout")},
	} {
		if e.SizeWith(r)+len(aggregate.OuterPartitionKey) > maxAggregate {
			break // a real producer would put this aggregate and Reset
		}
		if err := e.Add(r); err != nil {
			fmt.Println(err)
			return
		}
	}
	outer, err := e.Outer(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("put PartitionKey=%q ExplicitHashKey=%s (%d bytes, %d records)\n",
		outer.PartitionKey, outer.ExplicitHashKey, len(outer.Data), e.Len())
	fmt.Println("routed like user-1:", outer.ExplicitHashKey == aggregate.HashKey("user-1").String())

	err = aggregate.DecodeFunc(outer.Data, func(i int, r aggregate.Record) error {
		fmt.Printf("%d %s %s\n", i, r.PartitionKey, r.Data)
		return nil
	})
	fmt.Println("decode error:", err)
	// Output:
	// put PartitionKey="a" ExplicitHashKey=285573413173782752570879317399258818820 (70 bytes, 3 records)
	// routed like user-1: true
	// 0 user-1 login
	// 1 user-2 click
	// 2 user-1 logout
	// decode error: <nil>
}
