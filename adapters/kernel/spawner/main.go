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
//	response: {"id":1,"code":0,"signal":"","stdout":"","stderr":"","timedOut":false,"error":""}
//
// With `netns`, the child starts inside that network namespace: the spawner enters it on a thread of
// its own (setns(2), as `nsenter --net=` does) and starts the child from there; the thread is thrown
// away afterwards. That saves the `nsenter` process per command (measured ~5 ms of CPU per pod under
// load). A namespace that cannot be entered answers like nsenter: exit code 1 and the reason on
// stderr, nothing run.
//
// `code` is the exit status (-1 when the child was killed by a signal, named in `signal`, e.g.
// "SIGKILL"); `timedOut` says the spawner killed it (SIGKILL) after `timeoutMs`; `error` is set when
// the process could not be started (then nothing ran) or the request was malformed. A child's
// stdout and stderr are each capped at maxOutput bytes (the rest is dropped and `truncated` set).
// Each child runs in a process group of its own, and a timeout kills the whole group, so nothing it
// started outlives it; output pipes still held open by some other process are given up
// ioGrace after the child ended. On EOF of its stdin (coild exited or closed it) the spawner exits
// at once without waiting for running children: they run on to their end as orphans, as children of
// Node's spawn do when coild dies (a killed coild must not leave a process behind that waits for
// them). The children inherit the spawner's environment and working directory, i.e. coild's.
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

// ioGrace is how long the spawner waits for a child's output pipes to close after the child ended
// (a grandchild may still hold them); then they are closed and the child's exit status answered.
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
	Stdout    string `json:"stdout"`
	Stderr    string `json:"stderr"`
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
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
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
	cmd := exec.Command(req.Argv[0], req.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = ioGrace
	cmd.Stdin = strings.NewReader(req.Stdin)
	stdout, stderr := &capped{max: maxOutput}, &capped{max: maxOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if req.Netns != "" {
		if err := startIn(req.Netns, cmd); err != nil {
			var ne *netnsError
			if errors.As(err, &ne) {
				res.Code, res.Stderr = 1, "coil-spawner: "+ne.Error()+"\n"
				return res
			}
			res.Code, res.Error = -1, startError(req.Argv[0], err)
			return res
		}
	} else if err := cmd.Start(); err != nil {
		res.Code, res.Error = -1, startError(req.Argv[0], err)
		return res
	}
	var timedOut bool
	var mu sync.Mutex
	timer := time.AfterFunc(timeout, func() {
		mu.Lock()
		timedOut = true
		mu.Unlock()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: the child and whatever it started
	})
	waitErr := cmd.Wait()
	timer.Stop()
	mu.Lock()
	res.TimedOut = timedOut
	mu.Unlock()
	res.Stdout, res.Stderr = stdout.buf.String(), stderr.buf.String()
	res.Truncated = stdout.truncated || stderr.truncated
	var exit *exec.ExitError
	if errors.Is(waitErr, exec.ErrWaitDelay) && cmd.ProcessState != nil {
		// The child exited 0 but something else kept its output pipes open: answer its exit.
		waitErr = nil
		if !cmd.ProcessState.Success() {
			waitErr = &exec.ExitError{ProcessState: cmd.ProcessState}
		}
	}
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
		// An I/O error copying the child's output; the child itself ran.
		res.Code, res.Error = -1, waitErr.Error()
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
				// No id to answer to: the client's line framing is broken, which only a bug can do.
				readErr = fmt.Errorf("malformed request line: %w", jerr)
				break
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
