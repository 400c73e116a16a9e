//go:build !linux

package ctl

import (
	"errors"
	"net"
)

func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errors.New("ctl: peer credentials are only checked on Linux")
}

func umask(m int) int { return m }
