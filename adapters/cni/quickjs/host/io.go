package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The functions the script sees as globals. Their TypeScript declarations, with the meaning of every
// field, are in adapters/cni/quickjs/host.ts; keep the two in step.
func register(e *engine) error {
	for _, f := range []struct {
		name string
		fn   hostFunc
	}{
		{"__coil_env", hostEnv},
		{"__coil_argv", hostArgv},
		{"__coil_stdin", hostStdin},
		{"__coil_write", hostWrite},
		{"__coil_exit", hostExit},
		{"__coil_line", hostLine},
		{"__coil_h2", hostH2},
	} {
		if err := e.define(f.name, f.fn); err != nil {
			return err
		}
	}
	return nil
}

func argString(args []any, i int, name string) (string, error) {
	if i < len(args) {
		if s, ok := args[i].(string); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("host: argument %d (%s) must be a string", i, name)
}

func argInt(args []any, i int, name string) (int, error) {
	if i < len(args) {
		switch v := args[i].(type) {
		case int:
			return v, nil
		case float64:
			if v == float64(int(v)) {
				return int(v), nil
			}
		}
	}
	return 0, fmt.Errorf("host: argument %d (%s) must be an integer", i, name)
}

// hostEnv returns the environment as an object (the first '=' splits name and value).
func hostEnv([]any) (any, error) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// hostArgv returns the arguments after the program name.
func hostArgv([]any) (any, error) {
	if len(os.Args) < 2 {
		return []string{}, nil
	}
	return os.Args[1:], nil
}

// errnoName is the errno's symbolic name (ENOENT, ECONNREFUSED, …), else the error's text.
func errnoName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if n := unix.ErrnoName(errno); n != "" {
			return n
		}
	}
	return err.Error()
}

// hostStdin(limit) reads stdin to its end, but at most limit bytes: {data: base64} or {error}.
// A closed stdin reads as empty: Go's runtime reopens a closed fd 0 as /dev/null before main (the
// EBADF branch below is a second guard, for a descriptor that goes bad later).
func hostStdin(args []any) (any, error) {
	limit, err := argInt(args, 0, "limit")
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(os.Stdin, int64(limit)))
	if err != nil {
		if errors.Is(err, syscall.EBADF) && len(b) == 0 {
			return map[string]any{"data": ""}, nil
		}
		return map[string]any{"error": fmt.Sprintf("read /dev/stdin: %s", errnoName(err))}, nil
	}
	return map[string]any{"data": base64.StdEncoding.EncodeToString(b)}, nil
}

// hostWrite(fd, text) writes all of text to stdout (1) or stderr (2).
func hostWrite(args []any) (any, error) {
	fd, err := argInt(args, 0, "fd")
	if err != nil {
		return nil, err
	}
	text, err := argString(args, 1, "text")
	if err != nil {
		return nil, err
	}
	f := os.Stdout
	switch fd {
	case 1:
	case 2:
		f = os.Stderr
	default:
		return nil, fmt.Errorf("host: write to fd %d", fd)
	}
	if _, err := io.WriteString(f, text); err != nil {
		return errnoName(err), nil
	}
	return nil, nil
}

// hostExit(code) ends the process. Writes are synchronous, so nothing is left to flush.
func hostExit(args []any) (any, error) {
	code, err := argInt(args, 0, "code")
	if err != nil {
		return nil, err
	}
	os.Exit(code)
	return nil, nil
}

// hostLine(socket, line, timeoutMs, maxBytes) is one exchange of coild's fast protocol: connect to
// the UNIX socket, send line, read up to and including the first newline. It returns
//
//	{connectError: "ENOENT"}                      the connect failed (the errno's name)
//	{data, end: "newline"|"eof"|"limit"|"other"}  what was read, and why reading stopped ("other": the
//	                                              first byte is not '{', so this is no fast-path server)
//	{data, end: "error", error: "ECONNRESET"}     reading or writing failed after the connect
//	{data, end: "timeout"}                        no newline before the deadline
//
// data is base64. The deadline covers the connect, the write and the read.
func hostLine(args []any) (any, error) {
	socket, err := argString(args, 0, "socket")
	if err != nil {
		return nil, err
	}
	line, err := argString(args, 1, "line")
	if err != nil {
		return nil, err
	}
	timeoutMs, err := argInt(args, 2, "timeoutMs")
	if err != nil {
		return nil, err
	}
	maxBytes, err := argInt(args, 3, "maxBytes")
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Duration(timeoutMs) * time.Millisecond)
	conn, err := net.DialTimeout("unix", fileSocket(socket), time.Until(deadline))
	if err != nil {
		if isTimeout(err) {
			return map[string]any{"data": "", "end": "timeout"}, nil
		}
		return map[string]any{"connectError": errnoName(err)}, nil
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	// The write and the read run side by side: a server that answers before reading all of a large
	// request (or refuses it) must not leave the write blocked.
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(conn, line)
		wrote <- err
	}()
	var got []byte
	buf := make([]byte, 64*1024)
	end, why := "", ""
	for end == "" {
		n, err := conn.Read(buf)
		if n > 0 {
			if len(got) == 0 && buf[0] != '{' {
				got = append(got, buf[:n]...)
				end = "other"
				break
			}
			if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
				got = append(got, buf[:i+1]...)
				end = "newline"
				break
			}
			got = append(got, buf[:n]...)
			if len(got) > maxBytes {
				end = "limit"
				break
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			end = "eof"
		case isTimeout(err):
			end = "timeout"
		default:
			end, why = "error", errnoName(err)
		}
	}
	if end == "eof" || end == "timeout" {
		// A write error says more than "closed without an answer" (e.g. EPIPE on a refused request).
		select {
		case err := <-wrote:
			if err != nil && end == "eof" {
				end, why = "error", errnoName(err)
			}
		default:
		}
	}
	out := map[string]any{"data": base64.StdEncoding.EncodeToString(got), "end": end}
	if why != "" {
		out["error"] = why
	}
	return out, nil
}

// fileSocket is the path Node and Bun would connect to: for them a leading '@' is part of a (relative)
// file name, while Go's net package would take it for a Linux abstract socket. "./" keeps the meaning.
func fileSocket(socket string) string {
	if strings.HasPrefix(socket, "@") {
		return "./" + socket
	}
	return socket
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// hostH2(socket, path, body, timeoutMs, grpcTimeout) makes one unary gRPC call's HTTP/2 exchange over
// the UNIX socket (cleartext HTTP/2 with prior knowledge, as grpc-go's clients do; the client is
// h2.go's): POST path with content-type application/grpc, te: trailers and grpc-timeout, body =
// base64 of the framed request. The deadline covers the connect and the whole exchange. It returns
//
//	{connectError: "ENOENT"}                                  the connect failed
//	{timeout: true}                                           the deadline passed
//	{error: "…"}                                              the HTTP/2 exchange failed
//	{status: 200, headers: {…}, trailers: {…}, body: base64}  the response (header names lower case;
//	                                                          a trailers-only response has its
//	                                                          grpc-status in headers)
//
// The gRPC framing, the messages and the status mapping are the script's (adapters/cni/grpc-wire.ts).
func hostH2(args []any) (any, error) {
	socket, err := argString(args, 0, "socket")
	if err != nil {
		return nil, err
	}
	path, err := argString(args, 1, "path")
	if err != nil {
		return nil, err
	}
	body64, err := argString(args, 2, "body")
	if err != nil {
		return nil, err
	}
	timeoutMs, err := argInt(args, 3, "timeoutMs")
	if err != nil {
		return nil, err
	}
	grpcTimeout, err := argString(args, 4, "grpcTimeout")
	if err != nil {
		return nil, err
	}
	body, err := base64.StdEncoding.DecodeString(body64)
	if err != nil {
		return nil, fmt.Errorf("host: body is not base64: %v", err)
	}
	deadline := time.Now().Add(time.Duration(timeoutMs) * time.Millisecond)
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial("unix", fileSocket(socket))
	if err != nil {
		if isTimeout(err) {
			return map[string]any{"timeout": true}, nil
		}
		return map[string]any{"connectError": errnoName(err)}, nil
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	resp, err := h2Unary(conn, path, body, grpcTimeout)
	if err != nil {
		if isTimeout(err) {
			return map[string]any{"timeout": true}, nil
		}
		return map[string]any{"error": err.Error()}, nil
	}
	return map[string]any{
		"status":   resp.status,
		"headers":  resp.headers,
		"trailers": resp.trailers,
		"body":     base64.StdEncoding.EncodeToString(resp.body),
	}, nil
}
