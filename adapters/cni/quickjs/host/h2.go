// A minimal HTTP/2 client for one unary gRPC call (hostH2), hand-written instead of
// golang.org/x/net/http2's Transport.
//
// Why: a CNI plugin is one process per pod operation, so every package linked into the host runs its
// init at every start, though gRPC is only the fallback (against Coil's Go coild). x/net/http2 brings
// in net/http, crypto/tls, crypto/x509 and their dependencies. This file uses only small standard
// packages (net, io, bufio, encoding/binary, …) and golang.org/x/net/http2/hpack. Measured when it
// replaced the Transport (hyperfine -N -w 5 -r 100, CNI_COMMAND=VERSION, 2 cores shared with other
// work, User+System per start): coil-qjs 9.1 MB → 6.2 MB; 24.0-24.5 ms → 18.7-18.8 ms at load
// average 2.3-2.5 (/usr/lib/cni/ptp 11.6-13.0 ms in the same runs); 25.9-31.6 ms → 20.8-23.6 ms in
// two noisier runs at load average 5. (The "before" binary also had unstripped bytecode, worth about
// 3 ms of that: 22.3 → 19.4 ms in an earlier run.)
//
// What it does (RFC 9113), on a connection that carries nothing else:
//   - sends the client preface, a SETTINGS frame (ENABLE_PUSH=0) and one request on stream 1: HEADERS
//     (+ CONTINUATION if the block exceeds the server's frame size), HPACK-encoded without indexing
//     (dynamic table size 0), then the body as DATA frames within SETTINGS_MAX_FRAME_SIZE and the
//     connection's and stream's send windows (INITIAL_WINDOW_SIZE, adjusted when SETTINGS change it,
//     and WINDOW_UPDATE frames; a large body waits for them);
//   - ACKs the server's SETTINGS, answers PINGs, returns a WINDOW_UPDATE (connection and stream) for
//     every non-empty DATA frame that does not end the stream, padding included;
//   - decodes HEADERS + CONTINUATION blocks with one HPACK decoder (dynamic table up to the 4096
//     bytes of our default SETTINGS_HEADER_TABLE_SIZE; blocks of other streams are decoded too, so
//     the table stays in step); strips padding and priority fields from HEADERS and DATA;
//   - skips interim (1xx) responses, takes the response HEADERS, DATA, and trailers; the response
//     ends with END_STREAM on DATA or on HEADERS (a trailers-only response: its fields are headers);
//     field names are taken lower-cased, the first value of each;
//   - RST_STREAM on stream 1 → "stream reset: <code>"; GOAWAY whose last stream is below 1 → error
//     at once, otherwise the stream may still complete and a close after it names the GOAWAY;
//   - ignores frames of other streams (DATA still counts against, and refills, the connection
//     window), PRIORITY and unknown frame types; refuses PUSH_PROMISE;
//   - bounds the response body (16 MiB) and each header block (1 MiB);
//   - a protocol violation by the server ends the call with an error (after a best-effort GOAWAY).
//
// One goroutine: it writes what flow control allows, then reads a frame, and so on. The deadline is
// the caller's (conn.SetDeadline), so a server that stops reading or answering ends in a timeout.

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// Frame types, flags, settings and error codes (RFC 9113 sections 6, 7, 11).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	settingEnablePush        = 0x2
	settingInitialWindowSize = 0x4
	settingMaxFrameSize      = 0x5

	codeProtocol     = 0x1
	codeFlowControl  = 0x3
	codeFrameSize    = 0x6
	codeCompression  = 0x9
	codeEnhanceCalm  = 0xb
	h2ClientPreface  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	h2DefaultWindow  = 65535
	h2DefaultFrame   = 16384 // SETTINGS_MAX_FRAME_SIZE's default: what we accept, and the server's until it says otherwise
	h2MaxFrameLimit  = 1<<24 - 1
	h2MaxWindow      = 1<<31 - 1
	h2DefaultTable   = 4096 // SETTINGS_HEADER_TABLE_SIZE's default (we do not change ours)
	h2Stream         = 1    // our one stream
	h2MaxBody        = 16 << 20
	h2MaxHeaderBlock = 1 << 20
)

var h2CodeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
	"STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
	"CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

// h2CodeName is an error code's name (RFC 9113 section 7), or its number for an unknown one.
func h2CodeName(code uint32) string {
	if int(code) < len(h2CodeNames) {
		return h2CodeNames[code]
	}
	return fmt.Sprintf("unknown error code 0x%x", code)
}

// h2ProtocolError is the server breaking the protocol: the connection ends with a GOAWAY of code.
type h2ProtocolError struct {
	code uint32
	msg  string
}

func (e *h2ProtocolError) Error() string {
	return fmt.Sprintf("HTTP/2 protocol error (%s): %s", h2CodeName(e.code), e.msg)
}

func protocolError(code uint32, format string, args ...any) error {
	return &h2ProtocolError{code, fmt.Sprintf(format, args...)}
}

// h2Response is a complete response: header names lower case, the first value of each.
type h2Response struct {
	status            int
	headers, trailers map[string]string
	body              []byte
}

type h2Client struct {
	conn     net.Conn
	r        *bufio.Reader
	frame    []byte // the payload being read (our SETTINGS_MAX_FRAME_SIZE at most)
	out      []byte // frames to write at the next flush
	writeErr error  // the first write error; nothing more is written after it

	// Sending: what is left of the body, and the server's limits.
	body         []byte
	sendDone     bool  // END_STREAM sent
	maxFrame     int   // the server's SETTINGS_MAX_FRAME_SIZE
	initWindow   int64 // the server's SETTINGS_INITIAL_WINDOW_SIZE
	connWindow   int64 // connection send window
	streamWindow int64 // stream 1's send window (may go negative when INITIAL_WINDOW_SIZE shrinks)

	// Receiving.
	recvConn, recvStream int64 // our receive windows (refilled after every DATA frame)
	dec                  *hpack.Decoder
	fields               []hpack.HeaderField
	inBlock              bool // a header block awaits CONTINUATION
	blockStream          uint32
	blockEndStream       bool
	blockSize            int
	gotHeaders           bool
	goAway               string // the server's GOAWAY, when one came that still let stream 1 run
	resp                 h2Response
}

// h2Unary makes one POST of body to path on conn (HTTP/2 with prior knowledge) and reads the whole
// response. An error is the conn's own (a timeout among them: the caller's deadline), or a failure
// of the exchange described for the caller.
func h2Unary(conn net.Conn, path string, body []byte, grpcTimeout string) (*h2Response, error) {
	c := &h2Client{
		conn: conn, r: bufio.NewReaderSize(conn, 32<<10), frame: make([]byte, h2DefaultFrame),
		body: body, maxFrame: h2DefaultFrame, initWindow: h2DefaultWindow,
		connWindow: h2DefaultWindow, streamWindow: h2DefaultWindow,
		recvConn: h2DefaultWindow, recvStream: h2DefaultWindow,
	}
	c.dec = hpack.NewDecoder(h2DefaultTable, func(f hpack.HeaderField) { c.fields = append(c.fields, f) })
	c.dec.SetMaxStringLength(h2MaxHeaderBlock)
	c.out = append(c.out, h2ClientPreface...)
	c.writeFrame(frameSettings, 0, 0, []byte{0, settingEnablePush, 0, 0, 0, 0})
	c.writeRequestHeaders(path, grpcTimeout)
	for {
		c.sendBody()
		c.flush()
		done, err := c.readFrame()
		if err != nil {
			return nil, c.failure(err)
		}
		if done {
			if c.resp.trailers == nil {
				c.resp.trailers = map[string]string{}
			}
			return &c.resp, nil
		}
	}
}

func (c *h2Client) writeFrame(typ, flags byte, stream uint32, payload []byte) {
	n := len(payload)
	c.out = append(c.out, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	c.out = binary.BigEndian.AppendUint32(c.out, stream)
	c.out = append(c.out, payload...)
}

func (c *h2Client) writeUint32Frame(typ byte, stream, v uint32) {
	c.writeFrame(typ, 0, stream, binary.BigEndian.AppendUint32(nil, v))
}

func (c *h2Client) flush() {
	if len(c.out) > 0 && c.writeErr == nil {
		if _, err := c.conn.Write(c.out); err != nil {
			c.writeErr = err
		}
	}
	c.out = c.out[:0]
}

// writeRequestHeaders queues the request's header block: HEADERS, and CONTINUATION frames if it is
// larger than the server's frame size. An empty body ends the stream here.
func (c *h2Client) writeRequestHeaders(path, grpcTimeout string) {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	enc.SetMaxDynamicTableSizeLimit(0) // no indexing: the block starts with a table size update to 0
	for _, f := range [...][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", path}, {":authority", "localhost"},
		{"content-type", "application/grpc"}, {"te", "trailers"}, {"grpc-timeout", grpcTimeout},
	} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}) // bytes.Buffer never fails
	}
	b := block.Bytes()
	var flags byte
	if len(c.body) == 0 {
		flags |= flagEndStream
		c.sendDone = true
	}
	typ := byte(frameHeaders)
	for {
		n := min(len(b), c.maxFrame)
		if n == len(b) {
			flags |= flagEndHeaders
		}
		c.writeFrame(typ, flags, h2Stream, b[:n])
		b = b[n:]
		if len(b) == 0 {
			return
		}
		typ, flags = frameContinuation, 0
	}
}

// sendBody queues as much of the body as the frame size and the send windows allow.
func (c *h2Client) sendBody() {
	for !c.sendDone && c.writeErr == nil {
		n := int(min(int64(len(c.body)), int64(c.maxFrame), c.connWindow, c.streamWindow))
		if n <= 0 {
			return // wait for WINDOW_UPDATE (or SETTINGS)
		}
		var flags byte
		if n == len(c.body) {
			flags = flagEndStream
			c.sendDone = true
		}
		c.writeFrame(frameData, flags, h2Stream, c.body[:n])
		c.body = c.body[n:]
		c.connWindow -= int64(n)
		c.streamWindow -= int64(n)
	}
}

// failure is the error the call ends with: a protocol error (after telling the server with a
// GOAWAY), the deadline, or the connection ending early.
func (c *h2Client) failure(err error) error {
	var pe *h2ProtocolError
	switch {
	case errors.As(err, &pe):
		c.out = c.out[:0]
		c.writeFrame(frameGoAway, 0, 0, binary.BigEndian.AppendUint32(make([]byte, 4), pe.code))
		c.flush()
		return err
	case isTimeout(err):
		return err
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		msg := "connection closed before the response ended"
		if c.goAway != "" {
			msg += " (after " + c.goAway + ")"
		} else if c.writeErr != nil && !isTimeout(c.writeErr) {
			msg += " (write: " + errnoName(c.writeErr) + ")"
		}
		return errors.New(msg)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("read: %s", errnoName(err))
	}
	return err
}

// readFrame reads and handles one frame; done is true when the response is complete.
func (c *h2Client) readFrame() (done bool, err error) {
	var hdr [9]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return false, err
	}
	length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
	typ, flags := hdr[3], hdr[4]
	stream := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
	if length > len(c.frame) {
		return false, protocolError(codeFrameSize, "a frame of %d bytes (type 0x%x) exceeds SETTINGS_MAX_FRAME_SIZE %d", length, typ, len(c.frame))
	}
	p := c.frame[:length]
	if _, err := io.ReadFull(c.r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return false, err
	}
	if c.inBlock && (typ != frameContinuation || stream != c.blockStream) {
		return false, protocolError(codeProtocol, "frame type 0x%x where CONTINUATION of stream %d was due", typ, c.blockStream)
	}
	switch typ {
	case frameData:
		return c.onData(flags, stream, p)
	case frameHeaders:
		if stream == 0 {
			return false, protocolError(codeProtocol, "HEADERS on stream 0")
		}
		frag, err := unpad(flags, p, "HEADERS")
		if err != nil {
			return false, err
		}
		if flags&flagPriority != 0 {
			if len(frag) < 5 {
				return false, protocolError(codeFrameSize, "HEADERS too short for its priority fields")
			}
			frag = frag[5:]
		}
		c.inBlock, c.blockStream, c.blockEndStream, c.blockSize = true, stream, flags&flagEndStream != 0, 0
		return c.onBlockFragment(frag, flags&flagEndHeaders != 0)
	case frameContinuation:
		if !c.inBlock {
			return false, protocolError(codeProtocol, "CONTINUATION without HEADERS")
		}
		return c.onBlockFragment(p, flags&flagEndHeaders != 0)
	case frameRSTStream:
		if stream == 0 {
			return false, protocolError(codeProtocol, "RST_STREAM on stream 0")
		}
		if length != 4 {
			return false, protocolError(codeFrameSize, "RST_STREAM of %d bytes", length)
		}
		if stream == h2Stream {
			return false, fmt.Errorf("stream reset: %s", h2CodeName(binary.BigEndian.Uint32(p)))
		}
	case frameSettings:
		return false, c.onSettings(flags, stream, p)
	case framePushPromise:
		return false, protocolError(codeProtocol, "PUSH_PROMISE though SETTINGS_ENABLE_PUSH is 0")
	case framePing:
		if stream != 0 {
			return false, protocolError(codeProtocol, "PING on stream %d", stream)
		}
		if length != 8 {
			return false, protocolError(codeFrameSize, "PING of %d bytes", length)
		}
		if flags&flagAck == 0 {
			c.writeFrame(framePing, flagAck, 0, p)
		}
	case frameGoAway:
		if stream != 0 {
			return false, protocolError(codeProtocol, "GOAWAY on stream %d", stream)
		}
		if length < 8 {
			return false, protocolError(codeFrameSize, "GOAWAY of %d bytes", length)
		}
		last := binary.BigEndian.Uint32(p) & 0x7fffffff
		desc := "GOAWAY " + h2CodeName(binary.BigEndian.Uint32(p[4:]))
		if debug := p[8:]; len(debug) > 0 {
			desc += " " + strconv.Quote(string(debug[:min(len(debug), 200)]))
		}
		if last < h2Stream {
			return false, fmt.Errorf("the server sent %s before processing the request", desc)
		}
		c.goAway = desc
	case frameWindowUpdate:
		if length != 4 {
			return false, protocolError(codeFrameSize, "WINDOW_UPDATE of %d bytes", length)
		}
		inc := int64(binary.BigEndian.Uint32(p) & 0x7fffffff)
		var w *int64
		switch stream {
		case 0:
			w = &c.connWindow
		case h2Stream:
			w = &c.streamWindow
		default:
			return false, nil
		}
		if inc == 0 {
			return false, protocolError(codeProtocol, "WINDOW_UPDATE of 0 on stream %d", stream)
		}
		if *w += inc; *w > h2MaxWindow {
			return false, protocolError(codeFlowControl, "WINDOW_UPDATE beyond 2^31-1 on stream %d", stream)
		}
	}
	// PRIORITY, unknown types, and frames of other streams: nothing to do.
	return false, nil
}

// unpad strips a padded frame's pad length byte and padding.
func unpad(flags byte, p []byte, what string) ([]byte, error) {
	if flags&flagPadded == 0 {
		return p, nil
	}
	if len(p) == 0 || int(p[0]) >= len(p) {
		return nil, protocolError(codeProtocol, "%s padding exceeds the frame", what)
	}
	return p[1 : len(p)-int(p[0])], nil
}

func (c *h2Client) onData(flags byte, stream uint32, p []byte) (bool, error) {
	if stream == 0 {
		return false, protocolError(codeProtocol, "DATA on stream 0")
	}
	n := int64(len(p)) // flow control counts the whole payload, padding included
	data, err := unpad(flags, p, "DATA")
	if err != nil {
		return false, err
	}
	if c.recvConn -= n; c.recvConn < 0 {
		return false, protocolError(codeFlowControl, "DATA beyond the connection window")
	}
	if stream != h2Stream {
		c.refill(0, n)
		return false, nil
	}
	if !c.gotHeaders {
		return false, protocolError(codeProtocol, "DATA before the response HEADERS")
	}
	if c.recvStream -= n; c.recvStream < 0 {
		return false, protocolError(codeFlowControl, "DATA beyond the stream window")
	}
	if len(c.resp.body)+len(data) > h2MaxBody {
		return false, fmt.Errorf("the response body exceeds %d bytes", h2MaxBody)
	}
	c.resp.body = append(c.resp.body, data...)
	if flags&flagEndStream != 0 {
		return true, nil
	}
	c.refill(0, n)
	c.refill(h2Stream, n)
	return false, nil
}

// refill gives the server back n bytes of a receive window.
func (c *h2Client) refill(stream uint32, n int64) {
	if n == 0 {
		return
	}
	if stream == 0 {
		c.recvConn += n
	} else {
		c.recvStream += n
	}
	c.writeUint32Frame(frameWindowUpdate, stream, uint32(n))
}

func (c *h2Client) onSettings(flags byte, stream uint32, p []byte) error {
	if stream != 0 {
		return protocolError(codeProtocol, "SETTINGS on stream %d", stream)
	}
	if flags&flagAck != 0 {
		if len(p) != 0 {
			return protocolError(codeFrameSize, "SETTINGS ACK with a payload")
		}
		return nil
	}
	if len(p)%6 != 0 {
		return protocolError(codeFrameSize, "SETTINGS of %d bytes", len(p))
	}
	for ; len(p) > 0; p = p[6:] {
		v := binary.BigEndian.Uint32(p[2:])
		switch binary.BigEndian.Uint16(p) {
		case settingEnablePush:
			if v > 1 {
				return protocolError(codeProtocol, "SETTINGS_ENABLE_PUSH %d", v)
			}
		case settingInitialWindowSize:
			if v > h2MaxWindow {
				return protocolError(codeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE %d", v)
			}
			c.streamWindow += int64(v) - c.initWindow
			c.initWindow = int64(v)
			if c.streamWindow > h2MaxWindow {
				return protocolError(codeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE takes the stream window beyond 2^31-1")
			}
		case settingMaxFrameSize:
			if v < h2DefaultFrame || v > h2MaxFrameLimit {
				return protocolError(codeProtocol, "SETTINGS_MAX_FRAME_SIZE %d", v)
			}
			c.maxFrame = int(v)
		}
		// SETTINGS_HEADER_TABLE_SIZE bounds our encoder's table, which is empty; the others (concurrent
		// streams, header list size) do not restrict one small request.
	}
	c.writeFrame(frameSettings, flagAck, 0, nil)
	return nil
}

// onBlockFragment decodes a piece of a header block; at its end, a block of stream 1 is the
// response's headers or trailers.
func (c *h2Client) onBlockFragment(frag []byte, end bool) (bool, error) {
	if c.blockSize += len(frag); c.blockSize > h2MaxHeaderBlock {
		return false, protocolError(codeEnhanceCalm, "a header block exceeds %d bytes", h2MaxHeaderBlock)
	}
	if _, err := c.dec.Write(frag); err != nil {
		return false, protocolError(codeCompression, "%v", err)
	}
	if !end {
		return false, nil
	}
	c.inBlock = false
	if err := c.dec.Close(); err != nil {
		return false, protocolError(codeCompression, "%v", err)
	}
	fields := c.fields
	c.fields = c.fields[:0]
	if c.blockStream != h2Stream {
		return false, nil
	}
	return c.onHeaders(fields, c.blockEndStream)
}

func (c *h2Client) onHeaders(fields []hpack.HeaderField, endStream bool) (bool, error) {
	m := map[string]string{}
	status, regular := "", false
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			if regular || c.gotHeaders || f.Name != ":status" || status != "" {
				return false, fmt.Errorf("malformed response: pseudo-header %s misplaced", f.Name)
			}
			status = f.Value
			continue
		}
		regular = true
		name := strings.ToLower(f.Name)
		if _, ok := m[name]; !ok {
			m[name] = f.Value
		}
	}
	if c.gotHeaders {
		if !endStream {
			return false, fmt.Errorf("malformed response: trailers without END_STREAM")
		}
		c.resp.trailers = m
		return true, nil
	}
	code, err := strconv.Atoi(status)
	if err != nil || len(status) != 3 || code < 100 {
		return false, fmt.Errorf("malformed response: :status %q", status)
	}
	if code < 200 {
		if endStream {
			return false, fmt.Errorf("malformed response: interim status %d ends the stream", code)
		}
		return false, nil // an interim response; the final one follows
	}
	c.gotHeaders = true
	c.resp.status, c.resp.headers = code, m
	return endStream, nil
}
