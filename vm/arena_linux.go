package vm

import "syscall"

// adviseHugePages asks for transparent huge pages on an arena (MADV_HUGEPAGE, for kernels
// whose THP setting is "madvise", the usual default): its first touch then faults 2 MiB at a
// time instead of 4 KiB. Filling the 64 MiB arenas of the scale-4 TIES benchmark took 32 K
// page faults, each costly in a virtual machine. The kernel may ignore the advice.
func adviseHugePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) }
