package ipc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/xpush/xpush/app/control"
)

// Limits and timeouts of the protocol.
const (
	// MaxMessageSize bounds one request or response line, without its
	// newline. The largest real message, Settings with a long muted list,
	// is a few KiB.
	MaxMessageSize = 64 << 10

	// MaxConns bounds the connections the server handles at once: the
	// windows process and a second start use one each, briefly.
	MaxConns = 16

	// ReadTimeout is how long the server waits for the next request on a
	// connection: a client writes its request right after connecting.
	ReadTimeout = 10 * time.Second

	// CallTimeout is how long a client call, and the agent's method behind
	// it, may take: they are local and quick.
	CallTimeout = 10 * time.Second

	// SaveAccountTimeout is CallTimeout for SaveAccount, which may register
	// the account in-band and reconnect over the network.
	SaveAccountTimeout = 60 * time.Second

	// writeTimeout bounds writing one line; the peer reads it at once.
	writeTimeout = 5 * time.Second

	// busyWait is how long the server waits for a free connection slot
	// before it answers a new connection with an error.
	busyWait = time.Second

	// pingTimeout bounds Listen's question to an agent that holds the lock.
	pingTimeout = 2 * time.Second
)

// Ops.
const (
	opPing         = "ping"
	opStatus       = "status"
	opSetDND       = "set_dnd"
	opAccount      = "account"
	opSaveAccount  = "save_account"
	opSettings     = "settings"
	opSaveSettings = "save_settings"
	opOpen         = "open"
	opShow         = "show"
)

// opTimeout is how long op may take, on both sides.
func opTimeout(op string) time.Duration {
	if op == opSaveAccount {
		return SaveAccountTimeout
	}
	return CallTimeout
}

// request is one request line. Each op uses the fields its Agent method
// takes and ignores the others.
type request struct {
	Op       string            `json:"op"`
	Until    time.Time         `json:"until,omitzero"`
	Account  *control.Account  `json:"account,omitempty"`
	Password string            `json:"password,omitempty"`
	Create   bool              `json:"create,omitempty"`
	Settings *control.Settings `json:"settings,omitempty"`
	Key      string            `json:"key,omitempty"`
	Window   string            `json:"window,omitempty"`
}

// response is one response line.
type response struct {
	Error    string            `json:"error,omitempty"`
	Status   *control.Status   `json:"status,omitempty"`
	Account  *control.Account  `json:"account,omitempty"`
	Settings *control.Settings `json:"settings,omitempty"`
}

// Error is a failure the agent answered a call with: Message is the
// agent's error text (a sentence a user may be shown, such as why an
// account could not be saved) or the server's, when it could not
// understand the request.
type Error struct {
	Op      string // the request's op, as "save_account"
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrTooLarge is returned for a request or response longer than
// MaxMessageSize.
var ErrTooLarge = fmt.Errorf("ipc: message longer than %d bytes", MaxMessageSize)

// encodeLine returns v as one JSON line, or ErrTooLarge.
func encodeLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	if len(b) > MaxMessageSize {
		return nil, ErrTooLarge
	}
	return append(b, '\n'), nil
}

// readLine reads one line of at most limit bytes before its newline and
// returns it without the newline. A longer line is ErrTooLarge, having
// read at most limit+1 bytes of it plus r's buffer; a last line without a
// newline is io.ErrUnexpectedEOF.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > limit+1 || (err != nil && len(line)+len(frag) > limit) {
			return nil, ErrTooLarge
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}
