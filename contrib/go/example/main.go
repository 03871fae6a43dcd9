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
	"time"

	"oomless/contrib/go/example/budgetcache"
	"oomless/contrib/go/oomless"
)

func main() {
	normalMiB := flag.Int64("normal-mib", 256, "the Go memory limit at budget 1000, MiB")
	cacheNormal := flag.Int("cache", 10000, "cache entries at budget 1000")
	seconds := flag.Float64("seconds", 10, "how long to run")
	interval := flag.Duration("interval", oomless.DefaultInterval, "how often to poll the control page")
	listen := flag.String("listen", "", "serve /readyz and /weight on this address")
	flag.Parse()

	page := oomless.Default()
	fmt.Println("supervised:", budgetcache.Supervised(page))
	c := budgetcache.New(*cacheNormal)
	stop := page.FollowBudget(*normalMiB<<20, *interval, func(st oomless.State, limit int64) {
		c.Resize(st.Budget)
		fmt.Printf("stage %d budget %d weight %d ready %t: memory limit %d (read back %d), cache capacity %d\n",
			st.Stage, st.Budget, st.Weight, st.Ready, limit, debug.SetMemoryLimit(-1), c.Capacity())
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
			c.Get(k%(2**cacheNormal), func() []byte { return make([]byte, 1024) }) // the expensive computation
			k++
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("done: cache holds %d\n", c.Len())
}
