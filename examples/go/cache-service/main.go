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
	"sync"
	"time"

	"oomless/contrib/go/oomless"
)

// cache keeps values FIFO; its capacity (in values) follows the budget.
type cache struct {
	mu       sync.Mutex
	normal   int
	capacity int
	size     int
	values   [][]byte
}

func (c *cache) resize(budget int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.capacity = c.normal * budget / 1000
	if len(c.values) > c.capacity {
		drop := len(c.values) - c.capacity
		for i := 0; i < drop; i++ {
			c.values[i] = nil
		}
		c.values = append([][]byte(nil), c.values[drop:]...)
	}
}

func (c *cache) fillOne() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.values) >= c.capacity {
		return false
	}
	v := make([]byte, c.size)
	for i := 0; i < len(v); i += 4096 {
		v[i] = 1 // touched: charged to the cgroup
	}
	c.values = append(c.values, v)
	return true
}

func (c *cache) mib() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.values) * c.size >> 20
}

func main() {
	cacheMiB := flag.Int("cache-mib", 96, "cache size at budget 1000, MiB")
	valueKiB := flag.Int("value-kib", 64, "size of one cached value, KiB")
	normalMiB := flag.Int64("normal-mib", 112, "the Go memory limit at budget 1000, MiB")
	grow := flag.Float64("grow", 20, "MiB/s the cache fills at")
	seconds := flag.Float64("seconds", 30, "how long to run")
	flag.Parse()

	page := oomless.Default()
	if page.Attached() {
		fmt.Println("cache-service: supervised true")
	} else {
		fmt.Printf("cache-service: supervised false (%s)\n", page.Why())
	}
	size := *valueKiB << 10
	c := &cache{normal: (*cacheMiB << 20) / size, size: size}
	c.capacity = c.normal
	stop := page.FollowBudget(*normalMiB<<20, 50*time.Millisecond, func(st oomless.State, limit int64) {
		c.resize(st.Budget)
		// A real service tells its registry the weight and its readiness probe the readiness here.
		fmt.Printf("cache-service: stage %d budget %d weight %d ready %t: memory limit %d (read back %d), "+
			"cache capacity %d MiB, holds %d MiB\n", st.Stage, st.Budget, st.Weight, st.Ready, limit,
			debug.SetMemoryLimit(-1), c.capacity*c.size>>20, c.mib())
	})
	start := time.Now()
	for time.Since(start).Seconds() < *seconds {
		if float64(c.mib()) < time.Since(start).Seconds()**grow && c.fillOne() {
			continue
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	fmt.Printf("cache-service: done: holds %d MiB, capacity %d MiB\n", c.mib(), c.capacity*c.size>>20)
}
