// SPDX-License-Identifier: MIT

package oomless

import (
	"encoding/binary"
	"path/filepath"
	"syscall"
	"testing"
)

// testPage plays the supervisor: it lays the page out as include/oomless/control.h does and
// writes the supervisor's half with the seqlock protocol, each step its own pwrite (as
// supervisor/host/control.c does).
type testPage struct {
	t    *testing.T
	fd   int
	path string
	seq  uint32
}

func newFilePage(t *testing.T, version uint32) *testPage {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control")
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPage{t: t, fd: fd, path: path}
	t.Cleanup(func() { syscall.Close(fd) })
	p.fill(version)
	return p
}

func (p *testPage) fill(version uint32) {
	if err := syscall.Ftruncate(p.fd, PageSize); err != nil {
		p.t.Fatal(err)
	}
	p.header(Magic, version, structSize)
}

func (p *testPage) pwrite(b []byte, off int64) {
	if n, err := syscall.Pwrite(p.fd, b, off); err != nil || n != len(b) {
		p.t.Fatalf("pwrite: %v", err)
	}
}

func (p *testPage) header(magic uint64, version, size uint32) {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, magic)
	binary.LittleEndian.PutUint32(b[8:], version)
	binary.LittleEndian.PutUint32(b[12:], size)
	p.pwrite(b, 0)
}

func (p *testPage) begin() {
	p.seq |= 1
	p.pwrite(binary.LittleEndian.AppendUint32(nil, p.seq), supOff)
}

func (p *testPage) end() {
	p.seq++
	p.pwrite(binary.LittleEndian.AppendUint32(nil, p.seq), supOff)
}

// write publishes stage, budget, weight and flags (FlagBudget | extra).
func (p *testPage) write(stage, budget, weight, extra uint32) {
	p.writeFlags(stage, budget, weight, FlagBudget|extra)
}

func (p *testPage) writeFlags(stage, budget, weight, flags uint32) {
	p.begin()
	b := make([]byte, 44)
	binary.LittleEndian.PutUint32(b[0:], stage)
	binary.LittleEndian.PutUint32(b[4:], 3) // stage_count
	binary.LittleEndian.PutUint32(b[8:], flags)
	binary.LittleEndian.PutUint32(b[36:], budget)
	binary.LittleEndian.PutUint32(b[40:], weight)
	p.pwrite(b, supOff+4)
	p.end()
}

func (p *testPage) open() *Page {
	pg := OpenEnv(env(map[string]string{ControlEnv: p.path}))
	p.t.Cleanup(pg.Close)
	return pg
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// newMemfdPage is a page in a memfd, sealed (or not) as oomless seals it.
func newMemfdPage(t *testing.T, seal bool) *testPage {
	t.Helper()
	if sysMemfdCreate == 0 {
		t.Skip("memfd_create: syscall number unknown on this architecture")
	}
	name := []byte("oomless-control\x00")
	fd, _, errno := syscall.Syscall(sysMemfdCreate, uintptr(unsafePointer(&name[0])), 0x1|0x2, 0) // CLOEXEC|ALLOW_SEALING
	if errno != 0 {
		t.Fatal(errno)
	}
	p := &testPage{t: t, fd: int(fd)}
	t.Cleanup(func() { syscall.Close(int(fd)) })
	p.fill(Version)
	if seal {
		const fAddSeals, sealSeal, sealShrink, sealGrow = 1033, 0x1, 0x2, 0x4
		if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, fAddSeals, sealShrink|sealGrow|sealSeal); errno != 0 {
			t.Fatal(errno)
		}
	}
	return p
}
