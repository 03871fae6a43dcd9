// SPDX-License-Identifier: MIT

// Package budgetcache is the cache of the example services (contrib/go/example,
// examples/go/cache-service): FIFO-evicting values whose capacity, in values, is
// normal * budget / 1000, the budget being the one the supervisor publishes (oomless.State.Budget).
package budgetcache

import (
	"sync"

	"oomless/contrib/go/oomless"
)

// Cache is safe for concurrent use; the zero value holds nothing (use New).
type Cache struct {
	mu       sync.Mutex
	normal   int
	capacity int
	keys     []int
	entries  map[int][]byte
}

// New returns a cache of normal values at budget 1000.
func New(normal int) *Cache {
	return &Cache{normal: normal, capacity: normal, entries: map[int][]byte{}}
}

// Resize follows a new budget, dropping the oldest values beyond the new capacity.
func (c *Cache) Resize(budget int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.capacity = c.normal * budget / 1000
	c.evict()
}

func (c *Cache) evict() {
	for len(c.keys) > c.capacity {
		delete(c.entries, c.keys[0])
		c.keys = c.keys[1:]
	}
}

// Get returns the value under k, or computes it with compute and keeps it, evicting the oldest.
func (c *Cache) Get(k int, compute func() []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.entries[k]; ok {
		return v
	}
	v := compute()
	c.put(k, v)
	return v
}

// Fill keeps compute()'s value under k while the cache is below its capacity, and says whether it did:
// nothing is computed (allocated) once it is full.
func (c *Cache) Fill(k int, compute func() []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) >= c.capacity {
		return false
	}
	c.put(k, compute())
	return true
}

func (c *Cache) put(k int, v []byte) {
	if c.capacity > 0 {
		c.entries[k] = v
		c.keys = append(c.keys, k)
		c.evict()
	}
}

// Len is how many values the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Capacity is how many values the cache may hold at the current budget.
func (c *Cache) Capacity() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capacity
}

// Supervised says whether page is attached to a supervisor ("true"), or why not ("false (why)").
func Supervised(page *oomless.Page) string {
	if page.Attached() {
		return "true"
	}
	return "false (" + page.Why() + ")"
}
