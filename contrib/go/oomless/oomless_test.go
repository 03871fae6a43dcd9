// SPDX-License-Identifier: MIT

package oomless

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestNoSupervisor(t *testing.T) {
	p := OpenEnv(env(nil))
	if p.Attached() || p.Read() != Normal || p.Stage() != 0 || p.Budget() != 1000 || p.Weight() != 100 || !p.Ready() {
		t.Fatalf("got %+v (%s)", p.Read(), p.Why())
	}
	if q := OpenPath("/nonexistent/control"); q.Attached() || q.Read() != Normal {
		t.Fatal("a missing file must read Normal")
	}
}

func TestFilePage(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(1, 400, 20, FlagNotReady)
	p := tp.open()
	if !p.Attached() {
		t.Fatal(p.Why())
	}
	want := State{Stage: 1, StageCount: 3, Budget: 400, Weight: 20, Ready: false, Supervised: true}
	if got := p.Read(); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	tp.write(0, 1000, 100, FlagDryRun)
	want = State{StageCount: 3, Budget: 1000, Weight: 100, Ready: true, DryRun: true, Supervised: true}
	if got := p.Read(); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestMemfdPage(t *testing.T) {
	tp := newMemfdPage(t, true)
	tp.write(2, 0, 0, 0)
	p := OpenEnv(env(map[string]string{ControlFDEnv: strconv.Itoa(tp.fd), ControlEnv: "/nonexistent"}))
	defer p.Close()
	if got := p.Read(); !p.Attached() || got.Stage != 2 || got.Budget != 0 || got.Weight != 0 || !got.Ready {
		t.Fatalf("got %+v (%s)", got, p.Why())
	}
}

func TestBadFDDoesNotFallBackToThePath(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(2, 400, 20, 0)
	unsealed := newMemfdPage(t, false)
	unsealed.write(2, 400, 20, 0)
	for _, v := range []string{"x", "-1", "999", strconv.Itoa(tp.fd), strconv.Itoa(unsealed.fd)} {
		p := OpenEnv(env(map[string]string{ControlFDEnv: v, ControlEnv: tp.path}))
		if p.Attached() || p.Read() != Normal {
			t.Fatalf("%s: attached (%+v)", v, p.Read())
		}
	}
}

func TestWatchCallsBackOnChange(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(0, 1000, 100, 0)
	p := tp.open()
	var mu sync.Mutex
	var seen []string
	stop := p.Watch(5*time.Millisecond, func(cur, prev State) {
		mu.Lock()
		seen = append(seen, strconv.Itoa(prev.Budget)+">"+strconv.Itoa(cur.Budget)+"/"+strconv.Itoa(cur.Weight))
		mu.Unlock()
	})
	waitFor := func(n int) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			mu.Lock()
			l := len(seen)
			mu.Unlock()
			if l >= n {
				return
			}
		}
		t.Fatalf("callbacks %v, want %d", seen, n)
	}
	waitFor(1)
	tp.write(1, 400, 20, 0)
	waitFor(2)
	tp.write(0, 1000, 100, 0)
	waitFor(3)
	stop()
	tp.write(0, 100, 100, 0)
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, " ") != "1000>1000/100 1000>400/20 400>1000/100" {
		t.Fatalf("callbacks %v", seen)
	}
}

func TestReaderNeverSeesATornSnapshot(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(0, 0, 0, 0)
	p := tp.open()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint32(0); ; i = (i + 1) % 1001 {
			select {
			case <-done:
				return
			default:
			}
			tp.write(i, i, i/10, 0)
		}
	}()
	good := 0
	for i := 0; i < 20000; i++ {
		st := p.Read()
		if st == Normal {
			continue
		}
		good++
		if st.Stage != st.Budget || st.Weight != st.Budget/10 {
			close(done)
			wg.Wait()
			t.Fatalf("torn: %+v", st)
		}
	}
	close(done)
	wg.Wait()
	if good < 100 {
		t.Fatalf("only %d settled snapshots", good)
	}
}

func TestGarbage(t *testing.T) {
	tp := newFilePage(t, 2)
	rnd := rand.New(rand.NewSource(1))
	buf := make([]byte, PageSize)
	for i := 0; i < 20; i++ {
		rnd.Read(buf)
		tp.pwrite(buf, 0)
		if p := tp.open(); p.Read() != Normal {
			t.Fatalf("garbage read as %+v", p.Read())
		}
	}
}

func TestGarbageUnderAValidHeaderIsClamped(t *testing.T) {
	tp := newFilePage(t, 2)
	p := tp.open()
	rnd := rand.New(rand.NewSource(2))
	buf := make([]byte, PageSize)
	for i := 0; i < 500; i++ {
		rnd.Read(buf)
		tp.pwrite(buf, 0)
		tp.header(Magic, 2, structSize)
		st := p.Read()
		if st.Budget < 0 || st.Budget > 1000 || st.Weight < 0 || st.Weight > 100 || st.Stage < 0 || st.Stage > 1000 {
			t.Fatalf("out of range: %+v", st)
		}
	}
}

func TestOddSequenceForever(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(1, 400, 20, 0)
	p := tp.open()
	if p.Budget() != 400 {
		t.Fatal(p.Read())
	}
	tp.begin() // a writer that died mid-update
	t0 := time.Now()
	for i := 0; i < 1000; i++ {
		if b := p.Budget(); b != 400 {
			t.Fatalf("budget %d, want the last good 400", b)
		}
	}
	if fresh := tp.open(); fresh.Read() != Normal {
		t.Fatalf("a reader with no good snapshot: %+v", fresh.Read())
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("1001 reads took %v", d)
	}
}

func TestTruncatedFile(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(2, 300, 30, 0)
	p := tp.open()
	stop := p.Watch(time.Millisecond, func(State, State) {})
	defer stop()
	if p.Budget() != 300 {
		t.Fatal(p.Read())
	}
	// A few bytes left: the first page stays mapped and reads zeros past the end; no fault.
	if err := os.Truncate(tp.path, 100); err != nil {
		t.Fatal(err)
	}
	st := p.Read()
	if st.Budget < 0 || st.Budget > 1000 {
		t.Fatalf("%+v", st)
	}
	// Nothing left: the read faults (SIGBUS), recovers, and the page is dropped for good.
	if err := os.Truncate(tp.path, 0); err != nil {
		t.Fatal(err)
	}
	if st := p.Read(); st != Normal || p.Attached() {
		t.Fatalf("after truncation: %+v attached %v", st, p.Attached())
	}
	time.Sleep(20 * time.Millisecond) // the watcher reads it too
	tp.fill(2)
	tp.write(0, 700, 100, 0)
	if p.Read() != Normal {
		t.Fatal("a dropped page stays dropped")
	}
	if q := tp.open(); q.Budget() != 700 {
		t.Fatalf("reopened: %+v", q.Read())
	}
}

func TestTruncatedBeforeOpen(t *testing.T) {
	tp := newFilePage(t, 2)
	if err := os.Truncate(tp.path, 10); err != nil {
		t.Fatal(err)
	}
	if p := tp.open(); p.Attached() || p.Read() != Normal {
		t.Fatal("a short file must not be mapped")
	}
}

func TestWrongMagicVersionSize(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(1, 400, 20, 0)
	for _, h := range []struct {
		magic         uint64
		version, size uint32
	}{{0x1234, 2, structSize}, {Magic, 0, structSize}, {Magic, 2, 12}, {Magic, 2, 8192}} {
		tp.header(h.magic, h.version, h.size)
		if p := tp.open(); p.Attached() || p.Read() != Normal {
			t.Fatalf("%+v: attached", h)
		}
	}
	tp.header(Magic, 2, structSize)
	p := tp.open()
	if p.Budget() != 400 {
		t.Fatal(p.Read())
	}
	tp.header(0, 2, structSize) // overwritten while attached: the page is gone
	if p.Read() != Normal || p.Attached() {
		t.Fatal("a page that lost its magic must read Normal")
	}
}

func TestVersion1Page(t *testing.T) {
	tp := newFilePage(t, 1)
	tp.write(2, 123, 7, FlagNotReady) // junk where version 2 fields are: a v1 supervisor never writes them
	want := State{Stage: 2, StageCount: 3, Budget: 1000, Weight: 100, Ready: true, Supervised: true}
	if got := tp.open().Read(); got != want {
		t.Fatalf("got %+v", got)
	}
}

func TestVersion2WithoutBudgetFlag(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.writeFlags(1, 0, 0, 0) // a half not yet published must not read as "shed everything"
	want := State{Stage: 1, StageCount: 3, Budget: 1000, Weight: 100, Ready: true, Supervised: true}
	if got := tp.open().Read(); got != want {
		t.Fatalf("got %+v", got)
	}
}

func TestFutureVersion3Page(t *testing.T) {
	tp := newFilePage(t, 3)
	tp.header(Magic, 3, 1024)
	tp.pwrite(bytes.Repeat([]byte{0xff}, 64), supOff+48) // fields of version 3
	tp.write(1, 250, 50, FlagNotReady|1<<20)
	want := State{Stage: 1, StageCount: 3, Budget: 250, Weight: 50, Ready: false, Supervised: true}
	if got := tp.open().Read(); got != want {
		t.Fatalf("got %+v", got)
	}
}

func TestOutOfRangeClamped(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(5000, 5000, 300, 0)
	if got := tp.open().Read(); got.Stage != 1000 || got.Budget != 1000 || got.Weight != 100 {
		t.Fatalf("got %+v", got)
	}
}

func TestMemoryLimitFor(t *testing.T) {
	for _, c := range []struct {
		normal int64
		budget int
		want   int64
	}{{1 << 30, 1000, 1 << 30}, {1 << 30, 400, (1<<30)/1000*400 + (1<<30)%1000*400/1000}, {1 << 30, 0, MinMemoryLimit},
		{1 << 62, 1000, 1 << 62}, {1000, 500, MinMemoryLimit}} {
		if got := MemoryLimitFor(c.normal, c.budget); got != c.want {
			t.Fatalf("MemoryLimitFor(%d, %d) = %d, want %d", c.normal, c.budget, got, c.want)
		}
	}
}

func TestFollowBudget(t *testing.T) {
	tp := newFilePage(t, 2)
	tp.write(0, 1000, 100, 0)
	p := tp.open()
	before := debug.SetMemoryLimit(-1)
	const normal = 512 << 20
	stop := p.FollowBudget(normal, 5*time.Millisecond, nil)
	waitLimit := func(want int64) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			if debug.SetMemoryLimit(-1) == want {
				return
			}
		}
		t.Fatalf("memory limit %d, want %d", debug.SetMemoryLimit(-1), want)
	}
	waitLimit(normal)
	tp.write(1, 400, 20, 0)
	waitLimit(MemoryLimitFor(normal, 400))
	tp.write(1, 0, 0, 0)
	waitLimit(MinMemoryLimit)
	tp.write(0, 1000, 100, 0)
	waitLimit(normal)
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("after stop: %d, want %d", got, before)
	}
}

// The example service under a page this test writes: its memory limit and cache follow a shed and
// a recovery.
func TestExampleFollowsTheBudget(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "example")
	build := exec.Command("go", "build", "-o", bin, "oomless/contrib/go/example")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tp := newFilePage(t, 2)
	tp.write(0, 1000, 100, 0)
	cmd := exec.Command(bin, "-normal-mib", "100", "-cache", "1000", "-seconds", "30", "-interval", "10ms")
	cmd.Env = append(os.Environ(), ControlEnv+"="+tp.path, ControlFDEnv+"=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		var acc []byte
		for {
			n, err := out.Read(buf)
			acc = append(acc, buf[:n]...)
			for {
				i := bytes.IndexByte(acc, '\n')
				if i < 0 {
					break
				}
				lines <- string(acc[:i])
				acc = acc[i+1:]
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	expect := func(fragment string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the example ended before %q", fragment)
				}
				t.Logf("example: %s", l)
				if strings.Contains(l, fragment) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q within 10 s", fragment)
			}
		}
	}
	limit := func(b int) string {
		l := strconv.FormatInt(MemoryLimitFor(100<<20, b), 10)
		return "memory limit " + l + " (read back " + l + ")"
	}
	expect("supervised: true")
	expect("stage 0 budget 1000 weight 100 ready true: " + limit(1000) + ", cache capacity 1000")
	tp.write(1, 400, 20, FlagNotReady)
	expect("stage 1 budget 400 weight 20 ready false: " + limit(400) + ", cache capacity 400")
	for _, b := range []int{550, 700, 850, 1000} {
		tp.write(0, uint32(b), 100, 0)
		expect("budget " + strconv.Itoa(b) + " weight 100 ready true: " + limit(b) + ", cache capacity " + strconv.Itoa(b))
	}
}
