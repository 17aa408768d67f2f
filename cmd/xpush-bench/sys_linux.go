//go:build linux

package main

import (
	"syscall"
	"time"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from linux/in.h: with a
// source address bound, the port is chosen at connect time, per
// destination, instead of at bind time from the ports free on that
// address for every destination.
const ipBindAddressNoPort = 24

// raiseNoFile raises the soft limit of open files to the hard limit and,
// when that is below want, tries to raise the hard limit too (which needs
// CAP_SYS_RESOURCE). It returns the limits in force afterwards.
func raiseNoFile(want uint64) (NoFile, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return NoFile{}, err
	}
	before := NoFile{Soft: lim.Cur, Hard: lim.Max}
	if lim.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	lim.Cur = lim.Max
	err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return NoFile{Soft: lim.Cur, Hard: lim.Max, SoftBefore: before.Soft, HardBefore: before.Hard}, err
}

// bindNoPort is a net.Dialer Control function that sets
// IP_BIND_ADDRESS_NO_PORT, best effort.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}

// selfCPU returns the CPU time (user+system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
