// SPDX-License-Identifier: MIT

// A Go service cache that follows the oomless budget, for `oomless run`: its cache holds at most
// cache-mib * budget / 1000 MiB, and its Go memory limit (debug.SetMemoryLimit, GOMEMLIMIT made
// dynamic) is normal-mib * budget / 1000 MiB, so the runtime gives the shed memory back to the
// kernel at once. With examples/policies/self-healing.json the budget drops to 40% when the working
// set stays at 75% of the limit, and climbs back in steps. One line per change:
//
//	oomless run --memory-max 128M --policy examples/policies/self-healing.json -- \
//	    ./cache-service -cache-mib 96 -normal-mib 112 -grow 20 -seconds 30
//
// Build (offline: the client module has no dependencies): cd examples/go && go build ./cache-service
package main

import (
	"flag"
	"fmt"
	"runtime/debug"
	"time"

	"oomless/contrib/go/example/budgetcache"
	"oomless/contrib/go/oomless"
)

func main() {
	cacheMiB := flag.Int("cache-mib", 96, "cache size at budget 1000, MiB")
	valueKiB := flag.Int("value-kib", 64, "size of one cached value, KiB")
	normalMiB := flag.Int64("normal-mib", 112, "the Go memory limit at budget 1000, MiB")
	grow := flag.Float64("grow", 20, "MiB/s the cache fills at")
	seconds := flag.Float64("seconds", 30, "how long to run")
	flag.Parse()

	page := oomless.Default()
	fmt.Println("cache-service: supervised", budgetcache.Supervised(page))
	size := *valueKiB << 10
	c := budgetcache.New((*cacheMiB << 20) / size)
	mib := func() int { return c.Len() * size >> 20 }
	stop := page.FollowBudget(*normalMiB<<20, 50*time.Millisecond, func(st oomless.State, limit int64) {
		c.Resize(st.Budget)
		// A real service tells its registry the weight and its readiness probe the readiness here.
		fmt.Printf("cache-service: stage %d budget %d weight %d ready %t: memory limit %d (read back %d), "+
			"cache capacity %d MiB, holds %d MiB\n", st.Stage, st.Budget, st.Weight, st.Ready, limit,
			debug.SetMemoryLimit(-1), c.Capacity()*size>>20, mib())
	})
	touched := func() []byte {
		v := make([]byte, size)
		for i := 0; i < len(v); i += 4096 {
			v[i] = 1 // touched: charged to the cgroup
		}
		return v
	}
	start := time.Now()
	for k := 0; time.Since(start).Seconds() < *seconds; {
		if float64(mib()) < time.Since(start).Seconds()**grow && c.Fill(k, touched) {
			k++
			continue
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	fmt.Printf("cache-service: done: holds %d MiB, capacity %d MiB\n", mib(), c.Capacity()*size>>20)
}
