// SPDX-License-Identifier: MIT
// A Go service with a live heap of LIVE_MB (as many small objects) and garbage on top: every step
// replaces a slice of the live set and allocates throw-away buffers, so with GOGC=100 the heap target
// is twice the live heap. Prints "done: checksum N" after SECONDS.
//
//	goheap LIVE_MB SECONDS
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

const objSize = 4096

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goheap LIVE_MB SECONDS")
		os.Exit(1)
	}
	liveMB, _ := strconv.Atoi(os.Args[1])
	secs, _ := strconv.ParseFloat(os.Args[2], 64)
	n := liveMB * 1024 * 1024 / objSize
	live := make([][]byte, n)
	for i := range live {
		live[i] = make([]byte, objSize)
		live[i][0] = byte(i)
	}
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	var sum uint64
	var sink []byte
	for i := 0; time.Now().Before(end); i++ {
		// replace 1/64 of the live set: the old objects become garbage
		for k := 0; k < n/64; k++ {
			j := (i*(n/64) + k) % n
			b := make([]byte, objSize)
			b[0] = byte(j)
			live[j] = b
		}
		// and short-lived buffers, as a request handler makes
		for k := 0; k < 32; k++ {
			sink = make([]byte, 256*1024)
			sink[k] = 1
		}
		sum += uint64(len(sink))
	}
	var check uint64
	for i := range live {
		if live[i][0] != byte(i) {
			fmt.Println("goheap: live object corrupted")
			os.Exit(1)
		}
		check += uint64(live[i][0])
	}
	fmt.Printf("done: checksum %d\n", check)
}
