// SPDX-License-Identifier: MIT

// Package oomless reads the oomless control page: the supervisor's memory stage, the budget for the
// program's caches (permille of their normal size) and the instance's weight, and follows the
// budget with the Go runtime's memory limit.
//
// With no supervisor (no page, or a page it cannot use), every read answers Normal: stage 0, budget
// 1000, weight 100, ready. Nothing here returns an error or panics because of the page.
//
// How it reads (docs/control-page.md, "Clients"): the page is mapped read-only with syscall.Mmap
// and read with sync/atomic loads under the seqlock (at most 64 tries; a snapshot that never
// settles gives the last good one). A page handed over as a plain file (OOMLESS_CONTROL=<path>) can
// be truncated by anyone in the workload, and touching the mapping past the end of the file raises
// SIGBUS; each read runs with debug.SetPanicOnFault(true), so the fault becomes a panic that the read
// recovers: the page is then unmapped for good and reads give Normal. A sealed memfd
// (OOMLESS_CONTROL_FD) cannot shrink and never faults.
package oomless

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The layout of include/oomless/control.h.
const (
	Magic        = 0x314c4f52544e434f // "OCNTRL1" little-endian
	Version      = 2                  // the newest version this package knows
	PageSize     = 4096               // OOMLESS_CONTROL_SIZE
	structSize   = 344                // sizeof(struct oomless_control), versions 1 and 2
	supOff       = 64                 // offsetof(struct oomless_control, sup)
	FlagDryRun   = 1 << 0             // OOMLESS_SUP_F_DRY_RUN
	FlagBudget   = 1 << 1             // OOMLESS_SUP_F_BUDGET (version 2): budget and weight are published
	FlagNotReady = 1 << 2             // OOMLESS_SUP_F_NOT_READY (version 2)
	BudgetNormal = 1000
	WeightNormal = 100
	ControlEnv   = "OOMLESS_CONTROL"
	ControlFDEnv = "OOMLESS_CONTROL_FD"
	retries      = 64

	fGetSeals   = 1034 // F_GET_SEALS
	fSealShrink = 0x2  // F_SEAL_SHRINK
)

// State is one consistent snapshot of what the supervisor publishes.
type State struct {
	Stage      int  // the policy stage, 0 = normal
	StageCount int  // stages in the policy
	Budget     int  // permille, 0..1000: size each cache as normal * Budget / 1000
	Weight     int  // 0..100
	Ready      bool // false while a stage declares "ready": false
	DryRun     bool // the policy only logs
	Supervised bool // a page was read
}

// Normal is what every read answers without a supervisor.
var Normal = State{Budget: BudgetNormal, Weight: WeightNormal, Ready: true}

// Page is a mapped control page, or the absence of one. Its methods are safe for concurrent use.
type Page struct {
	mu   sync.RWMutex // Read holds it shared; detaching (munmap) exclusive
	mem  []byte       // the read-only mapping, nil when there is no page
	why  string       // why there is no page
	last atomic.Value // State: the last good snapshot
}

// Why says why there is no page ("" when there is one).
func (p *Page) Why() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.why
}

// Attached reports whether a page is mapped.
func (p *Page) Attached() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.mem != nil
}

func none(why string) *Page { return &Page{why: why} }

// Open finds the page as liboomless does: OOMLESS_CONTROL_FD (a sealed memfd) wins when set, else
// OOMLESS_CONTROL (a file). A bad fd means no page, not the path, which would be the truncatable
// one. It never fails: without a usable page the result reads Normal.
func Open() *Page { return OpenEnv(os.Getenv) }

// OpenEnv is Open with the environment read through getenv.
func OpenEnv(getenv func(string) string) *Page {
	if v := getenv(ControlFDEnv); v != "" {
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 0 {
			return none(ControlFDEnv + "=" + v + ": not a file descriptor number")
		}
		return OpenFD(fd)
	}
	if path := getenv(ControlEnv); path != "" {
		return OpenPath(path)
	}
	return none("no supervisor")
}

// OpenFD maps an inherited memfd. It must be sealed against shrinking, as oomless seals it: an fd
// number the program has reused for something else has no such seal. The fd stays open.
func OpenFD(fd int) *Page {
	seals, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), fGetSeals, 0)
	if errno != 0 || seals&fSealShrink == 0 {
		return none(fmt.Sprintf("fd %d: not a memfd sealed against shrinking", fd))
	}
	return mapChecked(fd, fmt.Sprintf("fd %d", fd))
}

// OpenPath maps a page that is a plain file (the sidecar case).
func OpenPath(path string) *Page {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NOCTTY, 0)
	if err != nil {
		return none(path + ": " + err.Error())
	}
	defer syscall.Close(fd) // the mapping outlives it
	return mapChecked(fd, path)
}

func mapChecked(fd int, name string) *Page {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return none(name + ": " + err.Error())
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size < PageSize {
		return none(name + ": not a regular file (or memfd) of 4096 bytes")
	}
	// The header is checked with pread, never through the mapping.
	var hdr [16]byte
	if n, err := syscall.Pread(fd, hdr[:], 0); err != nil || n != len(hdr) {
		return none(name + ": cannot read the header")
	}
	if !headerOK(*(*uint64)(unsafe.Pointer(&hdr[0])), *(*uint32)(unsafe.Pointer(&hdr[8])),
		*(*uint32)(unsafe.Pointer(&hdr[12]))) {
		return none(name + ": not a control page (bad magic, version or size)")
	}
	mem, err := syscall.Mmap(fd, 0, PageSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return none(name + ": " + err.Error())
	}
	return &Page{mem: mem}
}

// A reader accepts every version >= 1 and reads the fields it knows (the ABI rules).
func headerOK(magic uint64, version, size uint32) bool {
	return magic == Magic && version >= 1 && size >= structSize && size <= PageSize
}

func (p *Page) u32(off int) uint32 { return atomic.LoadUint32((*uint32)(unsafe.Pointer(&p.mem[off]))) }
func (p *Page) u64(off int) uint64 { return atomic.LoadUint64((*uint64)(unsafe.Pointer(&p.mem[off]))) }

var errGone = errors.New("the control page is gone")

// snapshot reads the page once under the seqlock; ok false when every try was torn. A fault (the
// file was truncated) comes back as errGone.
func (p *Page) snapshot() (st State, ok bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			st, ok, err = Normal, false, errGone
		}
	}()
	if !headerOK(p.u64(0), p.u32(8), p.u32(12)) {
		return Normal, false, errGone
	}
	version := p.u32(8)
	for i := 0; i < retries; i++ {
		seq := p.u32(supOff)
		if seq&1 != 0 {
			continue // a write in progress
		}
		stage, count, flags := p.u32(supOff+4), p.u32(supOff+8), p.u32(supOff+12)
		budget, weight := p.u32(supOff+40), p.u32(supOff+44)
		if p.u32(supOff) != seq {
			continue // torn
		}
		st = State{Stage: int(min32(stage, 1000)), StageCount: int(count), Budget: BudgetNormal,
			Weight: WeightNormal, Ready: true, DryRun: flags&FlagDryRun != 0, Supervised: true}
		if version >= 2 && flags&FlagBudget != 0 {
			st.Budget, st.Weight = int(min32(budget, BudgetNormal)), int(min32(weight, WeightNormal))
			st.Ready = flags&FlagNotReady == 0
		}
		return st, true, nil
	}
	return Normal, false, nil
}

func min32(a, b uint32) uint32 {
	if a < b {
		return a
	}
	return b
}

// Read returns a consistent snapshot: Normal without a page, the last good snapshot when the
// sequence never settles (a writer stopped mid-update), Normal for good once the page is gone.
func (p *Page) Read() State {
	p.mu.RLock()
	if p.mem == nil {
		p.mu.RUnlock()
		return Normal
	}
	st, ok, err := p.snapshot()
	p.mu.RUnlock()
	switch {
	case err != nil:
		p.detach(err.Error())
		return Normal
	case ok:
		p.last.Store(st)
		return st
	}
	if last, ok := p.last.Load().(State); ok {
		return last
	}
	return Normal
}

func (p *Page) detach(why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mem != nil {
		_ = syscall.Munmap(p.mem)
		p.mem, p.why = nil, why
	}
}

// Close unmaps the page; later reads give Normal.
func (p *Page) Close() { p.detach("closed") }

// Stage is the supervisor's stage, 0 = normal.
func (p *Page) Stage() int { return p.Read().Stage }

// Budget is the cache budget in permille, 0..1000.
func (p *Page) Budget() int { return p.Read().Budget }

// Weight is the instance's weight, 0..100.
func (p *Page) Weight() int { return p.Read().Weight }

// Ready is false while the supervisor marks the instance not ready.
func (p *Page) Ready() bool { return p.Read().Ready }

// DefaultInterval is how often Watch and FollowBudget poll when given 0.
const DefaultInterval = 100 * time.Millisecond

// Watch calls fn(cur, prev) from a goroutine: once at start (prev is Normal, what a program
// assumes before it looks), then whenever the snapshot changes, polling every interval (0:
// DefaultInterval). stop ends it and waits for a running fn; do not call stop from fn.
func (p *Page) Watch(interval time.Duration, fn func(cur, prev State)) (stop func()) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		prev, first := Normal, true
		for {
			if cur := p.Read(); first || cur != prev {
				fn(cur, prev)
				prev, first = cur, false
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

// MinMemoryLimit is the floor FollowBudget keeps the memory limit above: at budget 0 the garbage
// collector runs often, but not without end.
const MinMemoryLimit = 4 << 20

// MemoryLimitFor is normal * budget / 1000 bytes, at least MinMemoryLimit.
func MemoryLimitFor(normal int64, budget int) int64 {
	l := normal/1000*int64(budget) + normal%1000*int64(budget)/1000
	if l < MinMemoryLimit {
		return MinMemoryLimit
	}
	return l
}

// FollowBudget keeps the Go runtime's soft memory limit (debug.SetMemoryLimit, the GOMEMLIMIT
// setting) at MemoryLimitFor(normal, budget) as the budget changes: normal is the limit at budget
// 1000. then, if not nil, runs after each change with the snapshot and the limit set. stop ends it
// and puts back the limit that was in force before.
func (p *Page) FollowBudget(normal int64, interval time.Duration, then func(st State, limit int64)) (stop func()) {
	before := debug.SetMemoryLimit(-1)
	budget := -1
	stopWatch := p.Watch(interval, func(cur, _ State) {
		if cur.Budget == budget {
			return
		}
		budget = cur.Budget
		limit := MemoryLimitFor(normal, cur.Budget)
		debug.SetMemoryLimit(limit)
		if then != nil {
			then(cur, limit)
		}
	})
	return func() {
		stopWatch()
		debug.SetMemoryLimit(before)
	}
}

var (
	defaultOnce sync.Once
	defaultPage *Page
)

// Default is the process's page, found from the environment on first use.
func Default() *Page {
	defaultOnce.Do(func() { defaultPage = Open() })
	return defaultPage
}

// Stage is Default().Stage().
func Stage() int { return Default().Stage() }

// Budget is Default().Budget().
func Budget() int { return Default().Budget() }

// Weight is Default().Weight().
func Weight() int { return Default().Weight() }

// Ready is Default().Ready().
func Ready() bool { return Default().Ready() }

// Watch is Default().Watch(interval, fn).
func Watch(interval time.Duration, fn func(cur, prev State)) (stop func()) {
	return Default().Watch(interval, fn)
}

// FollowBudget keeps debug.SetMemoryLimit at normal * budget / 1000 for the process's page,
// polling every DefaultInterval. stop ends it and restores the previous limit.
func FollowBudget(normal int64) (stop func()) {
	return Default().FollowBudget(normal, 0, nil)
}
