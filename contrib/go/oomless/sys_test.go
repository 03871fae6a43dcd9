// SPDX-License-Identifier: MIT

package oomless

import (
	"runtime"
	"unsafe"
)

// memfd_create is not in the frozen syscall package.
var sysMemfdCreate = map[string]uintptr{"amd64": 319, "arm64": 279, "386": 356, "riscv64": 279}[runtime.GOARCH]

func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }
