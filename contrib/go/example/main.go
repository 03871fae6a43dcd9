// SPDX-License-Identifier: MIT

// An example service that follows the oomless budget: its Go memory limit is normal * budget /
// 1000 (the GOMEMLIMIT idea made dynamic), its cache holds at most cacheNormal * budget / 1000
// entries, and with -listen it serves /readyz (503 while the supervisor marks it not ready) and
// /weight for a registry.
//
//	go run ./example -normal-mib 256 -cache 10000 -seconds 60 -listen 127.0.0.1:8080
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"oomless/contrib/go/oomless"
)

// cache is a FIFO-evicting map whose capacity follows the budget.
type cache struct {
	mu       sync.Mutex
	normal   int
	capacity int
	keys     []int
	entries  map[int][]byte
}

func (c *cache) resize(budget int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.capacity = c.normal * budget / 1000
	c.evict()
}

func (c *cache) evict() {
	for len(c.keys) > c.capacity {
		delete(c.entries, c.keys[0])
		c.keys = c.keys[1:]
	}
}

func (c *cache) get(k int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.entries[k]; ok {
		return v
	}
	v := make([]byte, 1024) // the expensive computation
	if c.capacity > 0 {
		c.entries[k] = v
		c.keys = append(c.keys, k)
		c.evict()
	}
	return v
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func main() {
	normalMiB := flag.Int64("normal-mib", 256, "the Go memory limit at budget 1000, MiB")
	cacheNormal := flag.Int("cache", 10000, "cache entries at budget 1000")
	seconds := flag.Float64("seconds", 10, "how long to run")
	interval := flag.Duration("interval", oomless.DefaultInterval, "how often to poll the control page")
	listen := flag.String("listen", "", "serve /readyz and /weight on this address")
	flag.Parse()

	page := oomless.Default()
	if page.Attached() {
		fmt.Println("supervised: true")
	} else {
		fmt.Printf("supervised: false (%s)\n", page.Why())
	}
	c := &cache{normal: *cacheNormal, capacity: *cacheNormal, entries: map[int][]byte{}}
	stop := page.FollowBudget(*normalMiB<<20, *interval, func(st oomless.State, limit int64) {
		c.resize(st.Budget)
		fmt.Printf("stage %d budget %d weight %d ready %t: memory limit %d (read back %d), cache capacity %d\n",
			st.Stage, st.Budget, st.Weight, st.Ready, limit, debug.SetMemoryLimit(-1), c.capacity)
	})
	defer stop()

	if *listen != "" {
		http.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !page.Ready() {
				http.Error(w, "shedding load\n", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		http.HandleFunc("/weight", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, page.Weight())
		})
		go func() {
			if err := http.ListenAndServe(*listen, nil); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}()
	}

	end := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	for k := 0; time.Now().Before(end); {
		for i := 0; i < 200; i++ {
			c.get(k % (2 * *cacheNormal))
			k++
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("done: cache holds %d\n", c.len())
}
