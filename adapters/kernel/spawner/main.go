// Command coil-spawner runs processes for coild: the kernel adapter's `ip`, `nsenter`, `nft` and
// `sysctl` commands. coild writes one JSON request per line on the spawner's stdin (argv, the
// child's stdin, a timeout) and reads one JSON response per line on its stdout (exit code or
// signal, captured stdout and stderr), matched by id; requests run concurrently.
//
// Why a separate program: Node's child_process.spawn (libuv 1.46, Node 20) forks the whole Node
// process. The fork copies coild's page tables and the exec in the child tears that copy down again:
// about 6 ms of CPU per process on this project's 2-core machines, spent on coild's main thread,
// while every concurrent pod ADD waits. Go's os/exec starts a child with clone(CLONE_VM|CLONE_VFORK)
// from this small process: ~0.5 ms, off coild's thread. A burst of 100 pods pays that 100 times
// (bench/RESULTS-cni.md). The spawner holds no logic of its own: the TypeScript side decides every
// argv (no shell is ever involved) and interprets every result (adapters/kernel/spawner.ts).
//
// Protocol (both directions one JSON object per line, UTF-8):
//
//	request:  {"id":1,"argv":["ip","-batch","-"],"stdin":"link set lo up\n","timeoutMs":30000,"netns":"/var/run/netns/x"}
//	response: {"id":1,"code":0,"signal":"","stdout":"<base64>","stderr":"<base64>","timedOut":false,"truncated":false,"error":""}
//
// `stdout` and `stderr` are the child's bytes, base64 (so the client decodes them exactly as Node
// decodes a child's output). `code` is the exit status (-1 when the child was killed by a signal,
// named in `signal`, e.g. "SIGKILL"); `timedOut` says the spawner killed it after `timeoutMs`;
// `truncated` says some output is missing (over maxOutput, or pipes still open at the deadline), so
// the client must not take the answer as a success; `error` is set when the process could not be
// started (nothing ran) or the request was malformed (then only its id is trusted).
//
// With `netns`, the child starts inside that network namespace: the spawner enters it on a thread of
// its own (setns(2), as `nsenter --net=` does) and starts the child from there; the thread is thrown
// away afterwards. That saves the `nsenter` process per command (measured ~5 ms of CPU per pod under
// load). A namespace that cannot be entered answers like nsenter: exit code 1 and the reason on
// stderr; a command that cannot be started there, like nsenter's exec failure: exit code 127.
//
// Each child runs in a process group of its own. Its output is read until both pipes reach EOF,
// however long after its exit that is (a grandchild may hold them), up to the request's deadline:
// then the group and the child are killed (SIGKILL) and the pipes get ioGrace more before they are
// closed and the answer is marked truncated. On EOF of its stdin (coild exited or closed it) the
// spawner exits at once without waiting for running children: they run on to their end as orphans,
// as children of Node's spawn do when coild dies. A request line that cannot be decoded is answered
// with an error when its id can be read, else the spawner exits 1 (the framing is broken). The
// children inherit the spawner's environment and working directory, i.e. coild's.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxOutput bounds each of a child's stdout and stderr (a route table of ten thousand lines as JSON
// is a few MB). A variable for the tests.
var maxOutput = 64 << 20

// MaxRequest bounds one request line (stdin of an `ip -batch` of a whole route table included).
const MaxRequest = 256 << 20

// DefaultTimeout applies when a request carries none.
const DefaultTimeout = 30 * time.Second

// ioGrace is how long the spawner still reads a child's output pipes after killing it at its deadline.
const ioGrace = 2 * time.Second

type request struct {
	ID        uint64   `json:"id"`
	Argv      []string `json:"argv"`
	Stdin     string   `json:"stdin"`
	TimeoutMs int64    `json:"timeoutMs"`
	Netns     string   `json:"netns"`
}

type response struct {
	ID        uint64 `json:"id"`
	Code      int    `json:"code"`
	Signal    string `json:"signal"`
	Stdout    []byte `json:"stdout"`
	Stderr    []byte `json:"stderr"`
	TimedOut  bool   `json:"timedOut"`
	Truncated bool   `json:"truncated"`
	Error     string `json:"error"`
}

// capped is an io.Writer that keeps the first max bytes.
type capped struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room < len(p) {
		c.truncated = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// signals names the signals a child may die of, as Node names them.
var signals = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT", syscall.SIGILL: "SIGILL",
	syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE",
	syscall.SIGKILL: "SIGKILL", syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM", syscall.SIGSYS: "SIGSYS",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGPROF: "SIGPROF",
	syscall.SIGIO: "SIGIO", syscall.SIGPWR: "SIGPWR", syscall.SIGSTKFLT: "SIGSTKFLT", syscall.SIGWINCH: "SIGWINCH",
	syscall.SIGURG: "SIGURG", syscall.SIGCHLD: "SIGCHLD", syscall.SIGCONT: "SIGCONT", syscall.SIGSTOP: "SIGSTOP",
	syscall.SIGTSTP: "SIGTSTP", syscall.SIGTTIN: "SIGTTIN", syscall.SIGTTOU: "SIGTTOU",
}

func signalName(s syscall.Signal) string {
	if n, ok := signals[s]; ok {
		return n
	}
	return fmt.Sprintf("SIG%d", int(s))
}

// run executes one request and describes the outcome.
func run(req request) response {
	res := response{ID: req.ID}
	if len(req.Argv) == 0 || req.Argv[0] == "" {
		res.Code, res.Error = -1, "empty argv"
		return res
	}
	for _, a := range req.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			res.Code, res.Error = -1, "an argument contains a NUL byte"
			return res
		}
	}
	timeout := DefaultTimeout
	if req.TimeoutMs > 0 {
		timeout = time.Duration(req.TimeoutMs) * time.Millisecond
	}
	// The child writes straight into pipes of our own (*os.File: no copying goroutine inside
	// os/exec), read below until EOF, so an early exit never cuts its output short.
	outR, outW, err := os.Pipe()
	if err != nil {
		res.Code, res.Error = -1, "spawn "+req.Argv[0]+": "+err.Error()
		return res
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		_ = outR.Close()
		_ = outW.Close()
		res.Code, res.Error = -1, "spawn "+req.Argv[0]+": "+err.Error()
		return res
	}
	cmd := exec.Command(req.Argv[0], req.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = strings.NewReader(req.Stdin)
	cmd.Stdout, cmd.Stderr = outW, errW
	var startErr error
	if req.Netns != "" {
		startErr = startIn(req.Netns, cmd)
	} else {
		startErr = cmd.Start()
	}
	_ = outW.Close() // the child has its own copies now (or never started)
	_ = errW.Close()
	if startErr != nil {
		_ = outR.Close()
		_ = errR.Close()
		var ne *netnsError
		switch {
		case errors.As(startErr, &ne):
			res.Code, res.Stderr = 1, []byte("coil-spawner: "+ne.Error()+"\n")
		case req.Netns != "":
			// As nsenter, which runs the command after entering: exit 127 and the reason.
			res.Code, res.Stderr = 127, []byte("coil-spawner: failed to execute "+req.Argv[0]+": "+startError(req.Argv[0], startErr)+"\n")
		default:
			res.Code, res.Error = -1, startError(req.Argv[0], startErr)
		}
		return res
	}
	stdout, stderr := &capped{max: maxOutput}, &capped{max: maxOutput}
	var reads sync.WaitGroup
	var readFailed sync.Once
	incomplete := false
	readAll := func(r *os.File, c *capped) {
		defer reads.Done()
		if _, err := io.Copy(c, r); err != nil {
			readFailed.Do(func() { incomplete = true })
		}
	}
	started := time.Now()
	reads.Add(2)
	go readAll(outR, stdout)
	go readAll(errR, stderr)
	var timedOut bool
	var mu sync.Mutex
	kill := func() {
		mu.Lock()
		timedOut = true
		mu.Unlock()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: the child and whatever it started there
		_ = cmd.Process.Kill()                              // and the child, should it have left its group
	}
	deadline := time.AfterFunc(timeout, kill)
	waitErr := cmd.Wait()
	readsDone := make(chan struct{})
	go func() { reads.Wait(); close(readsDone) }()
	select {
	case <-readsDone:
	case <-time.After(time.Until(started.Add(timeout))):
		// The child is gone but something it started still holds a pipe at the deadline: kill that
		// group too, give the pipes ioGrace, then close them and answer without the rest.
		kill()
		select {
		case <-readsDone:
		case <-time.After(ioGrace):
			_ = outR.Close()
			_ = errR.Close()
			<-readsDone
			incomplete = true
		}
	}
	deadline.Stop()
	_ = outR.Close()
	_ = errR.Close()
	mu.Lock()
	res.TimedOut = timedOut
	mu.Unlock()
	res.Stdout, res.Stderr = stdout.buf.Bytes(), stderr.buf.Bytes()
	res.Truncated = stdout.truncated || stderr.truncated || incomplete
	var exit *exec.ExitError
	switch {
	case waitErr == nil:
		res.Code = 0
	case errors.As(waitErr, &exit):
		ws, _ := exit.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			res.Code, res.Signal = -1, signalName(ws.Signal())
		} else {
			res.Code = ws.ExitStatus()
		}
	default:
		// Writing the child's stdin failed in a way os/exec does not ignore; the child itself ran.
		res.Code, res.Truncated = -1, true
		res.Stderr = append(res.Stderr, []byte("coil-spawner: "+waitErr.Error()+"\n")...)
	}
	return res
}

// netnsError says a network namespace could not be entered.
type netnsError struct {
	path string
	err  error
}

func (e *netnsError) Error() string {
	return fmt.Sprintf("cannot enter network namespace %s: %v", e.path, e.err)
}

// startIn starts cmd inside the network namespace at path: from a goroutine locked to its OS thread,
// which enters the namespace (setns(2) changes only the calling thread) and starts the child there
// (it inherits the thread's namespace). The goroutine never unlocks, so the Go runtime terminates
// the thread when it returns and no other goroutine ever runs in that namespace.
func startIn(path string, cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			done <- &netnsError{path, err}
			return
		}
		defer syscall.Close(fd)
		if _, _, errno := syscall.RawSyscall(sysSetns, uintptr(fd), syscall.CLONE_NEWNET, 0); errno != 0 {
			done <- &netnsError{path, errno}
			return
		}
		done <- cmd.Start()
	}()
	return <-done
}

// startError words a failed start like Node's spawn error (`spawn ip ENOENT`), so coild's messages
// do not depend on which spawner ran the command.
func startError(file string, err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name, ok := errnoNames[errno]; ok {
			return "spawn " + file + " " + name
		}
	}
	if errors.Is(err, exec.ErrNotFound) {
		return "spawn " + file + " ENOENT"
	}
	return "spawn " + file + ": " + err.Error()
}

var errnoNames = map[syscall.Errno]string{
	syscall.ENOENT: "ENOENT", syscall.EACCES: "EACCES", syscall.EPERM: "EPERM", syscall.ENOEXEC: "ENOEXEC",
	syscall.ENOTDIR: "ENOTDIR", syscall.E2BIG: "E2BIG", syscall.ENOMEM: "ENOMEM", syscall.EAGAIN: "EAGAIN",
}

// serve reads requests from in and writes each response to out as soon as its child is done. It
// returns at EOF of in (or a malformed line) without waiting for children still running.
func serve(in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriter(out)
	var wmu sync.Mutex
	reply := func(res response) {
		line, err := json.Marshal(res)
		if err != nil { // cannot happen: strings and numbers only
			line = []byte(fmt.Sprintf(`{"id":%d,"code":-1,"error":"encoding the response failed"}`, res.ID))
		}
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = w.Write(append(line, '\n'))
		_ = w.Flush()
	}
	var readErr error
	for {
		line, err := readLine(r)
		if len(line) > 0 {
			var req request
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				var idOnly struct {
					ID *uint64 `json:"id"`
				}
				if json.Unmarshal(line, &idOnly) != nil || idOnly.ID == nil {
					// No id to answer to: the client's line framing is broken, which only a bug can do.
					readErr = fmt.Errorf("malformed request line: %w", jerr)
					break
				}
				go reply(response{ID: *idOnly.ID, Code: -1, Error: "malformed request: " + jerr.Error()})
				continue
			}
			go func() { reply(run(req)) }()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	return readErr
}

// readLine reads one line without its newline, refusing lines over MaxRequest.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxRequest {
			return nil, fmt.Errorf("request line over %d bytes", MaxRequest)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "--version", "version":
			fmt.Println("coil-spawner (protocol 1)")
			return
		default:
			fmt.Fprintln(os.Stderr, "usage: coil-spawner (started by coild; JSON requests on stdin, responses on stdout)")
			os.Exit(2)
		}
	}
	if err := serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "coil-spawner: %v\n", err)
		os.Exit(1)
	}
}
