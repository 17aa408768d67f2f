//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

func raiseNoFile(uint64) (NoFile, error) {
	return NoFile{}, errors.New("raising the open file limit is only implemented on Linux")
}

func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }

func selfCPU() time.Duration { return 0 }
