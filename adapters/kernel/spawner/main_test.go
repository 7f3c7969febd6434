package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// exchange runs serve over the given request lines, reads one response per request line, then
// closes serve's input; it returns the responses by id and serve's result.
func exchange(t *testing.T, lines ...string) (map[uint64]response, error) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serve(inR, outW); _ = outW.Close() }()
	go func() {
		for _, l := range lines {
			if _, err := inW.Write([]byte(l + "\n")); err != nil {
				return
			}
		}
	}()
	got := map[uint64]response{}
	sc := bufio.NewScanner(outR)
	sc.Buffer(nil, 256<<20)
	for len(got) < len(lines) && sc.Scan() {
		var r response
		if jerr := json.Unmarshal(sc.Bytes(), &r); jerr != nil {
			t.Fatalf("response line %q: %v", sc.Text(), jerr)
		}
		if _, dup := got[r.ID]; dup {
			t.Fatalf("two responses for id %d", r.ID)
		}
		got[r.ID] = r
	}
	_ = inW.Close()
	err := <-done
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	return got, err
}

func req(t *testing.T, r request) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// view is a response with its output as text, comparable with ==.
type view struct {
	ID        uint64
	Code      int
	Signal    string
	Stdout    string
	Stderr    string
	TimedOut  bool
	Truncated bool
	Error     string
}

func viewOf(r response) view {
	return view{r.ID, r.Code, r.Signal, string(r.Stdout), string(r.Stderr), r.TimedOut, r.Truncated, r.Error}
}

func TestOutcomes(t *testing.T) {
	got, err := exchange(t,
		req(t, request{ID: 1, Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}),
		req(t, request{ID: 2, Argv: []string{"cat"}, Stdin: "line one\nline two\n"}),
		req(t, request{ID: 3, Argv: []string{"coil-spawner-test-no-such-command"}}),
		req(t, request{ID: 4, Argv: []string{"sleep", "10"}, TimeoutMs: 100}),
		req(t, request{ID: 5, Argv: []string{"sh", "-c", "kill -TERM $$"}}),
		req(t, request{ID: 6, Argv: []string{}}),
		req(t, request{ID: 7, Argv: []string{"echo", "a\x00b"}}),
		req(t, request{ID: 8, Argv: []string{"true"}, Stdin: strings.Repeat("x", 1<<20)}),
		req(t, request{ID: 9, Argv: []string{"printf", "%s", "é ✓"}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]view{
		1: {ID: 1, Code: 3, Stdout: "out\n", Stderr: "err\n"},
		2: {ID: 2, Stdout: "line one\nline two\n"},
		3: {ID: 3, Code: -1, Error: "spawn coil-spawner-test-no-such-command ENOENT"},
		4: {ID: 4, Code: -1, Signal: "SIGKILL", TimedOut: true},
		5: {ID: 5, Code: -1, Signal: "SIGTERM"},
		6: {ID: 6, Code: -1, Error: "empty argv"},
		7: {ID: 7, Code: -1, Error: "an argument contains a NUL byte"},
		8: {ID: 8}, // a child that does not read its stdin: no EPIPE error, exit 0
		9: {ID: 9, Stdout: "é ✓"},
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || viewOf(g) != w {
			t.Errorf("id %d: got %+v, want %+v", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d responses, want %d", len(got), len(want))
	}
}

func TestTruncation(t *testing.T) {
	saved := maxOutput
	maxOutput = 10
	defer func() { maxOutput = saved }()
	got, err := exchange(t, req(t, request{ID: 1, Argv: []string{"printf", "%s", "0123456789abcdef"}}))
	if err != nil {
		t.Fatal(err)
	}
	if r := got[1]; string(r.Stdout) != "0123456789" || !r.Truncated || r.Code != 0 {
		t.Errorf("got %+v", r)
	}
}

// Requests run concurrently: a quick one is answered while a slow one still runs (the slow one waits
// for a file the test creates only after the quick answer). At EOF serve returns at once, and the
// slow child runs on as an orphan (it then creates a second file).
func TestConcurrentAndEOF(t *testing.T) {
	dir := t.TempDir()
	release, finished := dir+"/release", dir+"/finished"
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serve(inR, outW); _ = outW.Close() }()
	lines := bufio.NewScanner(outR)
	write := func(r request) {
		b, _ := json.Marshal(r)
		if _, err := inW.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
	write(request{ID: 1, Argv: []string{"sh", "-c", `while [ ! -e "$0" ]; do sleep 0.01; done; : >"$1"`, release, finished}})
	write(request{ID: 2, Argv: []string{"echo", "quick"}})
	if !lines.Scan() {
		t.Fatal("no first response")
	}
	var first response
	_ = json.Unmarshal(lines.Bytes(), &first)
	if first.ID != 2 || string(first.Stdout) != "quick\n" {
		t.Fatalf("first response %+v, want id 2 (the quick one)", first)
	}
	_ = inW.Close()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(finished); err == nil {
			break
		}
		if i > 6000 {
			t.Fatal("the child running at EOF did not run on to its end")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testNetns creates a network namespace for the test (removed at its end) and returns its name;
// it skips the test when not root.
func testNetns(t *testing.T, prefix string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	name := fmt.Sprintf("%s-%d", prefix, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return name
}

// alive says whether a process exists (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// A timeout kills the child's whole process group: the grandchild it started is gone too.
func TestTimeoutKillsGroup(t *testing.T) {
	got, err := exchange(t, req(t, request{ID: 1, Argv: []string{"sh", "-c", "sleep 60 & echo $!; wait"}, TimeoutMs: 300}))
	if err != nil {
		t.Fatal(err)
	}
	r := got[1]
	if !r.TimedOut || r.Signal != "SIGKILL" {
		t.Fatalf("timed out group: %+v", viewOf(r))
	}
	pid := 0
	_, _ = fmt.Sscan(string(r.Stdout), &pid)
	if pid <= 0 {
		t.Fatalf("no grandchild pid in %q", r.Stdout)
	}
	for i := 0; alive(pid); i++ {
		if i > 500 {
			t.Fatalf("grandchild %d still alive after the group was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Output is read to EOF however long after the child's exit that is: a grandchild that keeps the
// pipe and writes only once the child has exited is waited for (within the deadline), not cut off.
func TestOutputAfterExitIsKept(t *testing.T) {
	got, err := exchange(t, req(t, request{ID: 1, Argv: []string{"sh", "-c", "echo first; (while kill -0 $$ 2>/dev/null; do sleep 0.01; done; echo late) & exit 3"}, TimeoutMs: 60000}))
	if err != nil {
		t.Fatal(err)
	}
	if v := viewOf(got[1]); v.Code != 3 || v.Stdout != "first\nlate\n" || v.Truncated || v.TimedOut {
		t.Errorf("got %+v, want exit 3 with both lines", v)
	}
}

// A grandchild that escaped the group and holds the pipe past the deadline: the answer comes
// ioGrace after the deadline, with the child's exit status and marked truncated (never a success).
func TestLingeringPipeAtDeadline(t *testing.T) {
	start := time.Now()
	got, err := exchange(t, req(t, request{ID: 1, Argv: []string{"sh", "-c", "echo started; setsid sleep 5 & exit 0"}, TimeoutMs: 300}))
	if err != nil {
		t.Fatal(err)
	}
	v := viewOf(got[1])
	if v.Code != 0 || !v.Truncated || v.Stdout != "started\n" {
		t.Errorf("got %+v, want exit 0, truncated, the output so far", v)
	}
	if d := time.Since(start); d > 300*time.Millisecond+ioGrace+10*time.Second {
		t.Errorf("answered after %v", d)
	}
}

// Many requests in a namespace, then many concurrent plain ones: every plain one runs in the
// spawner's own namespace (a thread that entered a pod namespace is never reused).
func TestNoThreadKeepsANamespace(t *testing.T) {
	name := testNetns(t, "coil-spawner-thr")
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < 100; i++ {
		lines = append(lines, req(t, request{ID: uint64(i), Argv: []string{"readlink", "/proc/self/ns/net"}, Netns: "/var/run/netns/" + name}))
	}
	for i := 100; i < 300; i++ {
		lines = append(lines, req(t, request{ID: uint64(i), Argv: []string{"readlink", "/proc/self/ns/net"}}))
	}
	got, err := exchange(t, lines...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		ns := strings.TrimSpace(string(got[uint64(i)].Stdout))
		if (i < 100) == (ns == own) || ns == "" {
			t.Fatalf("request %d ran in %q (own namespace %q)", i, ns, own)
		}
	}
}

// Many quick commands on a busy spawner: every output arrives whole.
func TestNoOutputLostUnderLoad(t *testing.T) {
	var lines []string
	for i := 0; i < 300; i++ {
		lines = append(lines, req(t, request{ID: uint64(i), Argv: []string{"echo", fmt.Sprintf("hello%d", i)}}))
	}
	got, err := exchange(t, lines...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if v := viewOf(got[uint64(i)]); v.Code != 0 || v.Stdout != fmt.Sprintf("hello%d\n", i) || v.Truncated {
			t.Fatalf("request %d: %+v", i, v)
		}
	}
}

func TestMalformedLine(t *testing.T) {
	got, err := exchange(t, `{"id":7,"argv":["true"],"timeoutMs":1.5}`, `{"id":8,"argv":["true"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if r := got[7]; r.Code != -1 || !strings.HasPrefix(r.Error, "malformed request: ") {
		t.Errorf("a request that does not decode but names its id: %+v", viewOf(r))
	}
	if r := got[8]; r.Code != 0 || r.Error != "" {
		t.Errorf("the next request: %+v", viewOf(r))
	}
	_, err = exchange(t, `not json`)
	if err == nil || !strings.Contains(err.Error(), "malformed request line") {
		t.Errorf("err = %v, want a malformed-line error", err)
	}
}

func TestSignalName(t *testing.T) {
	if n := signalName(9); n != "SIGKILL" {
		t.Errorf("signalName(9) = %q", n)
	}
	if n := signalName(40); n != "SIG40" {
		t.Errorf("signalName(40) = %q", n)
	}
}

// A child started with netns runs in that namespace; a namespace that cannot be entered answers like
// nsenter (exit 1, the reason on stderr, nothing run). Needs root (ip netns add); skipped otherwise.
func TestNetns(t *testing.T) {
	name := testNetns(t, "coil-spawner-test")
	path := "/var/run/netns/" + name
	got, err := exchange(t,
		req(t, request{ID: 1, Argv: []string{"ip", "-o", "link", "show"}, Netns: path}),
		req(t, request{ID: 2, Argv: []string{"ip", "-batch", "-"}, Stdin: "link set lo up\n", Netns: path}),
		req(t, request{ID: 3, Argv: []string{"true"}, Netns: path + "-absent"}),
		req(t, request{ID: 4, Argv: []string{"true"}, Netns: "/etc/hostname"}),
		req(t, request{ID: 5, Argv: []string{"coil-spawner-test-no-such-command"}, Netns: path}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if r := viewOf(got[1]); r.Code != 0 || strings.Count(r.Stdout, "\n") != 1 || !strings.Contains(r.Stdout, ": lo:") {
		t.Errorf("links seen from the namespace: %+v (want only lo)", r)
	}
	if r := viewOf(got[2]); r.Code != 0 || r.Stderr != "" {
		t.Errorf("batch in the namespace: %+v", r)
	}
	up, _ := exec.Command("ip", "-n", name, "-o", "link", "show", "lo").Output()
	if !strings.Contains(string(up), "UP") {
		t.Errorf("lo of the namespace is not up after the batch: %s", up)
	}
	if r := viewOf(got[3]); r.Code != 1 || !strings.Contains(r.Stderr, "cannot enter network namespace "+path+"-absent") || !strings.Contains(r.Stderr, "no such file or directory") {
		t.Errorf("absent namespace: %+v", r)
	}
	if r := viewOf(got[4]); r.Code != 1 || !strings.Contains(r.Stderr, "invalid argument") {
		t.Errorf("a file that is not a namespace: %+v", r)
	}
	if r := viewOf(got[5]); r.Code != 127 || r.Error != "" || !strings.Contains(r.Stderr, "failed to execute coil-spawner-test-no-such-command: spawn coil-spawner-test-no-such-command ENOENT") {
		t.Errorf("missing command in a namespace: %+v", r)
	}
}
