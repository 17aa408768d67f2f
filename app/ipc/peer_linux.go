package ipc

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// checkPeer reports an error unless the process at the other end of conn
// runs with user id uid, as the kernel recorded it when the connection was
// made (SO_PEERCRED).
func checkPeer(conn net.Conn, uid int) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("ipc: not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("ipc: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("ipc: peer credentials: %w", err)
	}
	if credErr != nil {
		return fmt.Errorf("ipc: peer credentials: %w", credErr)
	}
	if int64(cred.Uid) != int64(uid) {
		return fmt.Errorf("ipc: the peer (pid %d) runs as user %d, not %d", cred.Pid, cred.Uid, uid)
	}
	return nil
}
