package main

// Tests of hostH2 (h2.go) against real servers: grpc-go, x/net/http2's server, and a frame-level
// script server (x/net/http2's Framer) for what the other two never send. These packages are test
// dependencies only; `go list -deps .` shows the binary does not link them.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// socketPath is a fresh UNIX socket path, short enough for sun_path.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "h2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

func grpcFrame(msg []byte) []byte {
	b := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	copy(b[5:], msg)
	return b
}

func call(t *testing.T, sock, path string, body []byte, timeoutMs int, grpcTimeout string) map[string]any {
	t.Helper()
	got, err := hostH2([]any{sock, path, base64.StdEncoding.EncodeToString(body), timeoutMs, grpcTimeout})
	if err != nil {
		t.Fatalf("hostH2: %v", err)
	}
	return got.(map[string]any)
}

type response struct {
	status            int
	headers, trailers map[string]string
	body              []byte
}

// ok asserts got is a response and returns it.
func ok(t *testing.T, got map[string]any) response {
	t.Helper()
	status, isInt := got["status"].(int)
	if !isInt {
		t.Fatalf("want a response, got %v", got)
	}
	body, err := base64.StdEncoding.DecodeString(got["body"].(string))
	if err != nil {
		t.Fatalf("body is not base64: %v", err)
	}
	return response{status, got["headers"].(map[string]string), got["trailers"].(map[string]string), body}
}

func wantError(t *testing.T, got map[string]any, contains string) {
	t.Helper()
	msg, isString := got["error"].(string)
	if !isString || len(got) != 1 || !strings.Contains(msg, contains) {
		t.Fatalf("want {error: …%q…}, got %v", contains, got)
	}
}

func wantTimeout(t *testing.T, got map[string]any) {
	t.Helper()
	if len(got) != 1 || got["timeout"] != true {
		t.Fatalf("want {timeout: true}, got %v", got)
	}
}

// ---- grpc-go ----

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

func unary(f func(context.Context, []byte) ([]byte, error)) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var in []byte
		if err := dec(&in); err != nil {
			return nil, err
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		return &out, nil
	}
}

func detailedError(headersFirst bool) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, _ []byte) ([]byte, error) {
		if headersFirst {
			if err := grpc.SendHeader(ctx, metadata.Pairs("x-early", "1")); err != nil {
				return nil, err
			}
		}
		st, err := status.New(codes.FailedPrecondition, "no room: 100%").WithDetails(wrapperspb.String("detail"))
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
}

// grpcServer serves service test.Svc (Echo, Fail, FailTrailersOnly, Hang) with raw messages.
func grpcServer(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	desc := grpc.ServiceDesc{
		ServiceName: "test.Svc",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Echo", Handler: unary(func(ctx context.Context, in []byte) ([]byte, error) {
				if _, has := ctx.Deadline(); has {
					_ = grpc.SetHeader(ctx, metadata.Pairs("x-deadline", "set"))
				}
				return in, nil
			})},
			{MethodName: "Fail", Handler: unary(detailedError(true))},
			{MethodName: "FailTrailersOnly", Handler: unary(detailedError(false))},
			{MethodName: "Hang", Handler: unary(func(ctx context.Context, _ []byte) ([]byte, error) {
				select {
				case <-ctx.Done():
				case <-release:
				}
				return nil, status.Error(codes.Canceled, "released")
			})},
		},
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.MaxRecvMsgSize(8<<20))
	srv.RegisterService(&desc, struct{}{})
	sock := socketPath(t)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		close(release)
		srv.Stop()
	})
	return sock
}

func decodeBin(t *testing.T, v string) []byte {
	t.Helper()
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(v, "="))
	if err != nil {
		t.Fatalf("not base64: %q", v)
	}
	return b
}

func checkDetails(t *testing.T, bin string) {
	t.Helper()
	var st spb.Status
	if err := proto.Unmarshal(decodeBin(t, bin), &st); err != nil {
		t.Fatalf("grpc-status-details-bin: %v", err)
	}
	var s wrapperspb.StringValue
	if st.Code != int32(codes.FailedPrecondition) || st.Message != "no room: 100%" || len(st.Details) != 1 || st.Details[0].UnmarshalTo(&s) != nil || s.Value != "detail" {
		t.Fatalf("grpc-status-details-bin decodes to %v", &st)
	}
}

func TestH2GRPC(t *testing.T) {
	sock := grpcServer(t)

	t.Run("OK with a body", func(t *testing.T) {
		r := ok(t, call(t, sock, "/test.Svc/Echo", grpcFrame([]byte("hello")), 5000, "5000m"))
		if r.status != 200 || r.headers["content-type"] != "application/grpc" || r.headers["x-deadline"] != "set" {
			t.Errorf("status %d, headers %v", r.status, r.headers)
		}
		if r.trailers["grpc-status"] != "0" {
			t.Errorf("trailers %v", r.trailers)
		}
		if !bytes.Equal(r.body, grpcFrame([]byte("hello"))) {
			t.Errorf("body %q", r.body)
		}
	})

	t.Run("a status error with grpc-status-details-bin in the trailers", func(t *testing.T) {
		r := ok(t, call(t, sock, "/test.Svc/Fail", grpcFrame(nil), 5000, "5000m"))
		if r.status != 200 || r.headers["x-early"] != "1" || r.headers["grpc-status"] != "" || len(r.body) != 0 {
			t.Errorf("status %d, headers %v, body %q", r.status, r.headers, r.body)
		}
		if r.trailers["grpc-status"] != "9" || r.trailers["grpc-message"] != "no room: 100%25" {
			t.Errorf("trailers %v", r.trailers)
		}
		checkDetails(t, r.trailers["grpc-status-details-bin"])
	})

	t.Run("a trailers-only status error: its fields are headers", func(t *testing.T) {
		r := ok(t, call(t, sock, "/test.Svc/FailTrailersOnly", grpcFrame(nil), 5000, "5000m"))
		if r.status != 200 || r.headers["grpc-status"] != "9" || len(r.trailers) != 0 || len(r.body) != 0 {
			t.Errorf("status %d, headers %v, trailers %v, body %q", r.status, r.headers, r.trailers, r.body)
		}
		checkDetails(t, r.headers["grpc-status-details-bin"])
	})

	t.Run("an unknown method: trailers-only UNIMPLEMENTED", func(t *testing.T) {
		for _, path := range []string{"/test.Svc/Nope", "/nope.Svc/Nope"} {
			r := ok(t, call(t, sock, path, grpcFrame([]byte("x")), 5000, "5000m"))
			if r.status != 200 || r.headers["grpc-status"] != "12" || !strings.Contains(r.headers["grpc-message"], "unknown") || len(r.trailers) != 0 || len(r.body) != 0 {
				t.Errorf("%s: status %d, headers %v, trailers %v, body %q", path, r.status, r.headers, r.trailers, r.body)
			}
		}
	})

	t.Run("a 1.5 MiB request and response (flow control both ways)", func(t *testing.T) {
		msg := make([]byte, 3<<19)
		for i := range msg {
			msg[i] = byte(rand.IntN(256))
		}
		r := ok(t, call(t, sock, "/test.Svc/Echo", grpcFrame(msg), 20000, "20S"))
		if r.status != 200 || r.trailers["grpc-status"] != "0" || !bytes.Equal(r.body, grpcFrame(msg)) {
			t.Errorf("status %d, trailers %v, body of %d bytes", r.status, r.trailers, len(r.body))
		}
	})

	t.Run("a server that never answers: the deadline", func(t *testing.T) {
		t0 := time.Now()
		wantTimeout(t, call(t, sock, "/test.Svc/Hang", grpcFrame(nil), 300, "100S"))
		if d := time.Since(t0); d < 300*time.Millisecond || d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})

	t.Run("a missing socket: connectError ENOENT", func(t *testing.T) {
		got := call(t, filepath.Join(filepath.Dir(sock), "missing"), "/test.Svc/Echo", grpcFrame(nil), 1000, "1000m")
		if len(got) != 1 || got["connectError"] != "ENOENT" {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("a socket nobody listens on: connectError ECONNREFUSED", func(t *testing.T) {
		dead := socketPath(t)
		l, err := net.Listen("unix", dead)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
		got := call(t, dead, "/test.Svc/Echo", grpcFrame(nil), 1000, "1000m")
		if len(got) != 1 || got["connectError"] != "ECONNREFUSED" {
			t.Fatalf("got %v", got)
		}
	})
}

// ---- x/net/http2's server ----

func TestH2XNetServer(t *testing.T) {
	sock := socketPath(t)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	srv := &http2.Server{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort":
			panic(http.ErrAbortHandler) // RST_STREAM INTERNAL_ERROR
		case "/echo":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("X-Method", r.Method)
			w.Header().Set("X-Host", r.Host)
			w.Header().Set("X-Te", r.Header.Get("Te"))
			w.Header().Set("X-Grpc-Timeout", r.Header.Get("Grpc-Timeout"))
			w.Header().Add("X-Twice", "first")
			w.Header().Add("X-Twice", "second")
			w.WriteHeader(202)
			_, _ = w.Write(body)
			w.Header().Set("X-Sum", fmt.Sprint(len(body)))
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv.ServeConn(conn, &http2.ServeConnOpts{Handler: handler})
			}()
		}
	}()

	t.Run("headers, body and trailers", func(t *testing.T) {
		body := bytes.Repeat([]byte("0123456789"), 30000)
		r := ok(t, call(t, sock, "/echo", body, 5000, "5000m"))
		want := map[string]string{"x-method": "POST", "x-host": "localhost", "x-te": "trailers", "x-grpc-timeout": "5000m", "x-twice": "first"}
		for k, v := range want {
			if r.headers[k] != v {
				t.Errorf("header %s = %q, want %q (headers %v)", k, r.headers[k], v, r.headers)
			}
		}
		if r.status != 202 || r.trailers["x-sum"] != "300000" || !bytes.Equal(r.body, body) {
			t.Errorf("status %d, trailers %v, body of %d bytes", r.status, r.trailers, len(r.body))
		}
	})

	t.Run("RST_STREAM", func(t *testing.T) {
		wantError(t, call(t, sock, "/abort", []byte("x"), 5000, "5000m"), "stream reset: INTERNAL_ERROR")
	})
}

// ---- a frame-level script server ----

// session is the server's side of one connection, driven by a test's script.
type session struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder

	// What the server advertised, and the client's flow control as the server sees it.
	initWindow, maxFrame  uint32
	acked                 bool  // the client ACKed our SETTINGS
	sentBeforeAck         int64 // request DATA received before that
	received              int64 // request DATA received (flow-controlled bytes)
	connGiven, strmGiven  int64 // WINDOW_UPDATE increments sent to the client
	stalls                int   // times the client used up a window
	clientConn, clientStr int64 // the client's receive windows
	clientPings           int
	frames                int // frames read from the client
}

func (s *session) fatalf(format string, args ...any) {
	s.t.Errorf("server: "+format, args...)
	runtime.Goexit()
}

// rawServer serves one connection on a fresh socket with script; the returned path is the socket.
func rawServer(t *testing.T, script func(s *session)) string {
	t.Helper()
	sock := socketPath(t)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		s := &session{t: t, conn: conn, fr: http2.NewFramer(conn, conn), initWindow: 65535, maxFrame: 16384, clientConn: 65535, clientStr: 65535}
		s.enc = hpack.NewEncoder(&s.hbuf)
		s.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		defer func() {
			// Read what the client still sends until it closes: closing a UNIX socket with unread
			// data would give the client ECONNRESET instead of the end of the stream.
			_ = conn.(*net.UnixConn).CloseWrite()
			_, _ = io.Copy(io.Discard, conn)
		}()
		script(s)
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return sock
}

// handshake reads the client preface and sends our SETTINGS.
func (s *session) handshake(settings ...http2.Setting) {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(s.conn, preface); err != nil || string(preface) != http2.ClientPreface {
		s.fatalf("preface %q, %v", preface, err)
	}
	for _, st := range settings {
		switch st.ID {
		case http2.SettingInitialWindowSize:
			s.initWindow = st.Val
		case http2.SettingMaxFrameSize:
			s.maxFrame = st.Val
		}
	}
	s.fr.SetMaxReadFrameSize(16384) // until the client ACKs a larger one
	if err := s.fr.WriteSettings(settings...); err != nil {
		s.fatalf("write SETTINGS: %v", err)
	}
}

// next reads a frame and handles the connection-level ones (SETTINGS, PING, WINDOW_UPDATE),
// which it returns too.
func (s *session) next() (http2.Frame, error) {
	f, err := s.fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	if s.frames++; s.frames == 1 {
		if sf, isSettings := f.(*http2.SettingsFrame); !isSettings || sf.IsAck() {
			s.fatalf("the client's first frame is %v, not SETTINGS", f)
		}
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			s.acked, s.sentBeforeAck = true, s.received
			s.fr.SetMaxReadFrameSize(s.maxFrame)
		} else {
			if err := f.ForeachSetting(func(st http2.Setting) error {
				if st.ID != http2.SettingEnablePush || st.Val != 0 {
					return fmt.Errorf("unexpected setting %v", st)
				}
				return nil
			}); err != nil {
				s.fatalf("client SETTINGS: %v", err)
			}
			if err := s.fr.WriteSettingsAck(); err != nil {
				return nil, err
			}
		}
	case *http2.WindowUpdateFrame:
		if f.StreamID == 0 {
			s.clientConn += int64(f.Increment)
		} else {
			s.clientStr += int64(f.Increment)
		}
	case *http2.PingFrame:
		if f.IsAck() {
			s.clientPings++
		}
	}
	return f, nil
}

// streamLimit is how much request DATA the client may have sent by now on stream 1.
func (s *session) streamLimit() int64 {
	if !s.acked {
		return 65535 + s.strmGiven
	}
	return max(s.sentBeforeAck, int64(s.initWindow)+s.strmGiven)
}

// clientStreamWindow is the client's send window on stream 1 once it has our WINDOW_UPDATEs.
func (s *session) clientStreamWindow() int64 {
	if !s.acked {
		return 65535 + s.strmGiven - s.received
	}
	return int64(s.initWindow) + s.strmGiven - s.received
}

// readRequest reads the request's HEADERS and body, checking the client keeps within the windows
// and frame size, and granting more window only when the client has used it all up.
func (s *session) readRequest() ([]hpack.HeaderField, []byte) {
	var fields []hpack.HeaderField
	var body []byte
	for {
		f, err := s.next()
		if err != nil {
			s.fatalf("reading the request: %v", err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID != 1 || fields != nil {
				s.fatalf("HEADERS on stream %d", f.StreamID)
			}
			fields = f.Fields
			if f.StreamEnded() {
				return fields, body
			}
		case *http2.DataFrame:
			if fields == nil || f.StreamID != 1 {
				s.fatalf("DATA on stream %d before HEADERS", f.StreamID)
			}
			body = append(body, f.Data()...)
			s.received += int64(f.Length)
			if s.received > 65535+s.connGiven {
				s.fatalf("the client sent %d bytes, beyond the connection window (%d)", s.received, 65535+s.connGiven)
			}
			if s.received > s.streamLimit() {
				s.fatalf("the client sent %d bytes, beyond the stream window (%d)", s.received, s.streamLimit())
			}
			if f.StreamEnded() {
				return fields, body
			}
		}
		if fields == nil {
			continue
		}
		if s.received >= 65535+s.connGiven {
			s.stalls++
			s.connGiven += 100000
			_ = s.fr.WriteWindowUpdate(0, 100000)
		}
		if w := s.clientStreamWindow(); w <= 0 {
			s.stalls++
			s.strmGiven += 30000 - w
			_ = s.fr.WriteWindowUpdate(1, uint32(30000-w))
		}
	}
}

// block HPACK-encodes fields (name, value, name, value, …) with indexing, so that later blocks
// refer to the dynamic table.
func (s *session) block(fields ...string) []byte {
	s.hbuf.Reset()
	for i := 0; i < len(fields); i += 2 {
		_ = s.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(s.hbuf.Bytes())
}

func (s *session) headers(stream uint32, end bool, block []byte) {
	if err := s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: block, EndStream: end, EndHeaders: true}); err != nil {
		s.fatalf("write HEADERS: %v", err)
	}
}

// data sends body on stream 1 in frames of up to chunk bytes (each with pad bytes of padding)
// within the client's windows, waiting for its WINDOW_UPDATEs.
func (s *session) data(body []byte, end bool, chunk, pad int) error {
	for first := true; first || len(body) > 0; first = false {
		for min(s.clientConn, s.clientStr) <= int64(pad+1) {
			if _, err := s.next(); err != nil {
				return err
			}
		}
		n := int(min(int64(len(body)), int64(chunk), min(s.clientConn, s.clientStr)-int64(pad+1)))
		var err error
		if pad > 0 {
			err = s.fr.WriteDataPadded(1, end && n == len(body), body[:n], make([]byte, pad))
			s.clientConn -= int64(n + pad + 1)
			s.clientStr -= int64(n + pad + 1)
		} else {
			err = s.fr.WriteData(1, end && n == len(body), body[:n])
			s.clientConn -= int64(n)
			s.clientStr -= int64(n)
		}
		if err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// drain reads until the client closes the connection and returns the GOAWAY it sent, if any.
func (s *session) drain() *http2.GoAwayFrame {
	var g *http2.GoAwayFrame
	for {
		f, err := s.next()
		if err != nil {
			return g
		}
		if ga, isGoAway := f.(*http2.GoAwayFrame); isGoAway {
			g = ga
		}
	}
}

func TestH2Raw(t *testing.T) {
	body := grpcFrame([]byte("request"))

	t.Run("the request's header fields", func(t *testing.T) {
		var got []string
		sock := rawServer(t, func(s *session) {
			s.handshake()
			fields, b := s.readRequest()
			for _, f := range fields {
				got = append(got, f.Name+": "+f.Value)
			}
			if !bytes.Equal(b, body) {
				s.fatalf("body %q", b)
			}
			s.headers(1, true, s.block(":status", "200", "grpc-status", "0"))
			s.drain()
		})
		r := ok(t, call(t, sock, "/coil.v2.CNI/Add", body, 5000, "4321m"))
		if r.status != 200 || r.headers["grpc-status"] != "0" {
			t.Errorf("got %+v", r)
		}
		want := []string{":method: POST", ":scheme: http", ":path: /coil.v2.CNI/Add", ":authority: localhost", "content-type: application/grpc", "te: trailers", "grpc-timeout: 4321m"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("request fields\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("flow control: a small INITIAL_WINDOW_SIZE, a larger MAX_FRAME_SIZE, a response beyond the client's windows", func(t *testing.T) {
		req := make([]byte, 1<<20+12345)
		for i := range req {
			req[i] = byte(rand.IntN(256))
		}
		resp := make([]byte, 300000)
		for i := range resp {
			resp[i] = byte(i)
		}
		var stalls int
		var granted bool
		sock := rawServer(t, func(s *session) {
			s.handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 20000})
			_, b := s.readRequest()
			if !bytes.Equal(b, req) {
				s.fatalf("request body of %d bytes differs", len(b))
			}
			stalls = s.stalls
			granted = s.acked && s.strmGiven > 0
			s.headers(1, false, s.block(":status", "200", "content-type", "application/grpc"))
			if err := s.data(resp, false, 16384, 0); err != nil {
				s.fatalf("response: %v", err)
			}
			s.headers(1, true, s.block("grpc-status", "0"))
			s.drain()
		})
		r := ok(t, call(t, sock, "/p", req, 20000, "20S"))
		if r.status != 200 || r.trailers["grpc-status"] != "0" || !bytes.Equal(r.body, resp) {
			t.Errorf("status %d, trailers %v, body of %d bytes", r.status, r.trailers, len(r.body))
		}
		if stalls < 10 || !granted {
			t.Errorf("the client used up its windows %d times (acked and granted: %v)", stalls, granted)
		}
	})

	t.Run("frames larger than 16384 once the server allows them", func(t *testing.T) {
		var largest uint32
		sock := rawServer(t, func(s *session) {
			s.handshake(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 100000})
			_ = s.fr.WriteWindowUpdate(0, 1<<20)
			_ = s.fr.WriteWindowUpdate(1, 1<<20)
			for {
				f, err := s.next()
				if err != nil {
					s.fatalf("%v", err)
				}
				if d, isData := f.(*http2.DataFrame); isData {
					largest = max(largest, d.Length)
					if d.StreamEnded() {
						break
					}
				}
			}
			s.headers(1, true, s.block(":status", "200", "grpc-status", "0"))
			s.drain()
		})
		ok(t, call(t, sock, "/p", make([]byte, 500000), 5000, "5S"))
		if largest <= 16384 || largest > 100000 {
			t.Errorf("largest DATA frame %d bytes", largest)
		}
	})

	t.Run("padding, priority, CONTINUATION, interim 100, PING, frames of other streams, unknown frames", func(t *testing.T) {
		var pings int
		sock := rawServer(t, func(s *session) {
			s.handshake(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
			s.readRequest()
			if err := s.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
				s.fatalf("%v", err)
			}
			for s.clientPings == 0 {
				if _, err := s.next(); err != nil {
					s.fatalf("waiting for the PING ACK: %v", err)
				}
			}
			pings = s.clientPings
			// Stream 3 (not ours): a header block that fills the dynamic table, then its DATA, RST_STREAM
			// and WINDOW_UPDATE; a PRIORITY frame and an unknown frame type.
			s.headers(3, false, s.block(":status", "200", "x-shared", "from stream 3", "content-type", "application/grpc"))
			_ = s.fr.WriteData(3, false, []byte("not yours"))
			_ = s.fr.WriteRSTStream(3, http2.ErrCodeCancel)
			_ = s.fr.WriteWindowUpdate(3, 5)
			_ = s.fr.WritePriority(1, http2.PriorityParam{StreamDep: 0, Weight: 10})
			_ = s.fr.WriteRawFrame(0xfa, 0xff, 1, []byte("unknown"))
			// An interim response, then the response: padded HEADERS with priority fields, split in
			// three; padded DATA; trailers in HEADERS + CONTINUATION.
			s.headers(1, false, s.block(":status", "100"))
			blk := s.block(":status", "200", "x-shared", "from stream 3", "content-type", "application/grpc", "X-Upper", "v", "x-dup", "1", "x-dup", "2")
			if err := s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:3], PadLength: 7, Priority: http2.PriorityParam{StreamDep: 0, Weight: 200}}); err != nil {
				s.fatalf("%v", err)
			}
			_ = s.fr.WriteContinuation(1, false, blk[3:5])
			_ = s.fr.WriteContinuation(1, true, blk[5:])
			if err := s.data([]byte("abcdefghij"), false, 4, 3); err != nil {
				s.fatalf("%v", err)
			}
			trl := s.block("grpc-status", "0", "grpc-message", "fine")
			_ = s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: trl[:1], EndStream: true})
			_ = s.fr.WriteContinuation(1, true, trl[1:])
			s.drain()
		})
		r := ok(t, call(t, sock, "/p", body, 5000, "5S"))
		want := map[string]string{"x-shared": "from stream 3", "content-type": "application/grpc", "x-upper": "v", "x-dup": "1"}
		if r.status != 200 || fmt.Sprint(r.headers) != fmt.Sprint(want) {
			t.Errorf("status %d, headers %v", r.status, r.headers)
		}
		if string(r.body) != "abcdefghij" || fmt.Sprint(r.trailers) != fmt.Sprint(map[string]string{"grpc-status": "0", "grpc-message": "fine"}) {
			t.Errorf("body %q, trailers %v", r.body, r.trailers)
		}
		if pings != 1 {
			t.Errorf("PING ACKs %d", pings)
		}
	})

	t.Run("END_STREAM on DATA: no trailers", func(t *testing.T) {
		sock := rawServer(t, func(s *session) {
			s.handshake()
			s.readRequest()
			s.headers(1, false, s.block(":status", "503"))
			_ = s.data([]byte("busy"), true, 100, 0)
			s.drain()
		})
		r := ok(t, call(t, sock, "/p", body, 5000, "5S"))
		if r.status != 503 || len(r.headers) != 0 || len(r.trailers) != 0 || string(r.body) != "busy" {
			t.Errorf("got %+v", r)
		}
	})

	t.Run("a response body over 16 MiB", func(t *testing.T) {
		sock := rawServer(t, func(s *session) {
			s.handshake()
			s.readRequest()
			s.headers(1, false, s.block(":status", "200"))
			_ = s.data(make([]byte, 17<<20), true, 16384, 0) // fails when the client gives up
		})
		wantError(t, call(t, sock, "/p", body, 20000, "20S"), "the response body exceeds 16777216 bytes")
	})

	failures := []struct {
		name   string
		script func(s *session)
		want   string
	}{
		{"RST_STREAM", func(s *session) {
			s.readRequest()
			_ = s.fr.WriteRSTStream(1, http2.ErrCodeRefusedStream)
		}, "stream reset: REFUSED_STREAM"},
		{"RST_STREAM after the response headers", func(s *session) {
			s.readRequest()
			s.headers(1, false, s.block(":status", "200"))
			_ = s.fr.WriteRSTStream(1, http2.ErrCodeCancel)
		}, "stream reset: CANCEL"},
		{"GOAWAY before the stream", func(s *session) {
			s.readRequest()
			_ = s.fr.WriteGoAway(0, http2.ErrCodeNo, []byte("shutting down"))
		}, `the server sent GOAWAY NO_ERROR "shutting down" before processing the request`},
		{"GOAWAY that lets the stream run, then a close", func(s *session) {
			s.readRequest()
			_ = s.fr.WriteGoAway(1, http2.ErrCodeEnhanceYourCalm, nil)
			s.headers(1, false, s.block(":status", "200"))
		}, "connection closed before the response ended (after GOAWAY ENHANCE_YOUR_CALM)"},
		{"a close before the response", func(s *session) {
			s.readRequest()
		}, "connection closed before the response ended"},
		{"DATA before HEADERS", func(s *session) {
			s.readRequest()
			_ = s.fr.WriteData(1, true, []byte("x"))
			if g := s.drain(); g == nil || g.ErrCode != http2.ErrCodeProtocol {
				s.fatalf("the client's GOAWAY: %v", g)
			}
		}, "HTTP/2 protocol error (PROTOCOL_ERROR): DATA before the response HEADERS"},
		{"an HPACK error", func(s *session) {
			s.readRequest()
			s.headers(1, true, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}) // index beyond any table
			if g := s.drain(); g == nil || g.ErrCode != http2.ErrCodeCompression {
				s.fatalf("the client's GOAWAY: %v", g)
			}
		}, "HTTP/2 protocol error (COMPRESSION_ERROR)"},
		{"a frame beyond SETTINGS_MAX_FRAME_SIZE", func(s *session) {
			s.readRequest()
			_ = s.fr.WriteRawFrame(0xfa, 0, 1, make([]byte, 16385))
		}, "HTTP/2 protocol error (FRAME_SIZE_ERROR)"},
		{"PUSH_PROMISE", func(s *session) {
			s.readRequest()
			_ = s.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: s.block(":method", "GET"), EndHeaders: true})
		}, "HTTP/2 protocol error (PROTOCOL_ERROR): PUSH_PROMISE"},
		{"a missing :status", func(s *session) {
			s.readRequest()
			s.headers(1, true, s.block("grpc-status", "0"))
		}, `malformed response: :status ""`},
		{"a WINDOW_UPDATE overflowing the window", func(s *session) {
			s.readRequest()
			_ = s.fr.WriteWindowUpdate(0, 1<<31-1)
		}, "HTTP/2 protocol error (FLOW_CONTROL_ERROR)"},
	}
	for _, c := range failures {
		t.Run(c.name, func(t *testing.T) {
			sock := rawServer(t, func(s *session) {
				s.handshake()
				c.script(s)
			})
			wantError(t, call(t, sock, "/p", body, 5000, "5S"), c.want)
		})
	}

	t.Run("GOAWAY that lets the stream run, then the response", func(t *testing.T) {
		sock := rawServer(t, func(s *session) {
			s.handshake()
			s.readRequest()
			_ = s.fr.WriteGoAway(1, http2.ErrCodeNo, nil)
			s.headers(1, true, s.block(":status", "200", "grpc-status", "0"))
		})
		if r := ok(t, call(t, sock, "/p", body, 5000, "5S")); r.headers["grpc-status"] != "0" {
			t.Errorf("got %+v", r)
		}
	})

	t.Run("a server that accepts and never reads: the deadline", func(t *testing.T) {
		release := make(chan struct{})
		sock := rawServer(t, func(s *session) { <-release })
		t0 := time.Now()
		wantTimeout(t, call(t, sock, "/p", make([]byte, 1<<20), 300, "1S"))
		close(release)
		if d := time.Since(t0); d < 300*time.Millisecond || d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

// TestH2NoHeavyDeps: the host binary links neither net/http nor crypto/tls nor x/net/http2 (the
// test binary does, for the servers above).
func TestH2NoHeavyDeps(t *testing.T) {
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	out, err := exec.Command(goCmd, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "golang.org/x/net/http2/hpack") {
		t.Errorf("hpack is not among the dependencies: go list -deps gave %d packages", len(deps))
	}
	for _, bad := range []string{"net/http", "crypto/tls", "crypto/x509", "golang.org/x/net/http2", "google.golang.org/grpc"} {
		if slices.Contains(deps, bad) {
			t.Errorf("the host links %s", bad)
		}
	}
}

func TestFileSocketKeepsAtSignAFileName(t *testing.T) {
	for in, want := range map[string]string{"@coild.sock": "./@coild.sock", "/run/coild.sock": "/run/coild.sock", "rel.sock": "rel.sock"} {
		if got := fileSocket(in); got != want {
			t.Errorf("fileSocket(%q) = %q, want %q", in, got, want)
		}
	}
}
