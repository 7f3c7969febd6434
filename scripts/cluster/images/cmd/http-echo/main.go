// Command http-echo is the HTTP server of the local test cluster's test image: every request is
// answered with 200 and one line "<hostname> <method> <path> from <remote address>", so a client
// learns which pod answered. It listens on every address (IPv4 and IPv6) of the port given by
// -port (default 8080) and exits 0 on SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	port := flag.Int("port", 8080, "TCP port to listen on")
	flag.Parse()
	host, _ := os.Hostname()
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(*port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "http-echo:", err)
		os.Exit(1)
	}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		os.Exit(0)
	}()
	fmt.Fprintf(os.Stderr, "http-echo: %s listening on %s\n", host, ln.Addr())
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s %s from %s\n", host, r.Method, r.URL.Path, r.RemoteAddr)
	}))
	fmt.Fprintln(os.Stderr, "http-echo:", err)
	os.Exit(1)
}
