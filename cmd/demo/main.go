// Command demo is a small web shop whose whole session lives in the
// browser, sealed by sealedsession: log in, fill a cart until the session
// is split into chunk cookies and then refused at the size budget, log out,
// log out everywhere, and force another user out as admin.
//
// Usage:
//
//	go run ./cmd/demo [-addr 127.0.0.1:8080] [-data ./data] [-store bolt:PATH|memory|redis://host:port/db]
//	                  [-idle 30m] [-absolute 24h] [-tls-cert FILE -tls-key FILE] [-log-level info]
//
// Keys come from SESSION_KEYS (see sealctl keygen and rotate) or, when it
// is unset, from <data>/session.keys, generated on first start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run starts the demo and serves until SIGINT or SIGTERM. It returns the
// process exit code: 0 after a clean shutdown, 1 on failure, 2 for bad usage.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr     = fs.String("addr", "127.0.0.1:8080", "listen address")
		data     = fs.String("data", "./data", "data folder (created with mode 0700): key file and default store")
		store    = fs.String("store", "", "epoch/revocation store: bolt:PATH, memory, or redis://host:port/db (default bolt:<data>/sessions.db)")
		idle     = fs.Duration("idle", 30*time.Minute, "idle timeout")
		absolute = fs.Duration("absolute", 24*time.Hour, "absolute timeout")
		tlsCert  = fs.String("tls-cert", "", "TLS certificate file (PEM); serve https")
		tlsKey   = fs.String("tls-key", "", "TLS private key file (PEM)")
		maxHdr   = fs.Int("max-header-bytes", 0, "session budget: bytes of Set-Cookie header lines one response may carry (0 = 2816, which fits a default nginx; raise it together with your proxy's limits, see docs/proxies.md)")
		insecure = fs.Bool("insecure-plain-http", false, "drop Secure and the __Host- prefix from the cookies (never needed on localhost; only for plain http on another host name)")
		logLevel = fs.String("log-level", "info", "log level: debug (also logs every refused cookie with its reason), info, warn or error")
	)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: demo [flags]\n\nA web app on sealed sessions. Keys: SESSION_KEYS, else <data>/%s (generated once).\n\n", keyFileName)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(stderr, "demo: -tls-cert and -tls-key go together")
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "demo: -log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	h, cleanup, err := newApp(config{
		DataDir:           *data,
		Store:             *store,
		Idle:              *idle,
		Absolute:          *absolute,
		SessionKeys:       getenv("SESSION_KEYS"),
		Logger:            log,
		InsecurePlainHTTP: *insecure,
		MaxHeaderBytes:    *maxHdr,
	})
	if err != nil {
		log.Error("start-up failed", "err", err)
		return 1
	}
	defer func() {
		if err := cleanup(); err != nil {
			log.Error("close store", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	log.Info("listening", "url", scheme+"://"+ln.Addr().String()+"/")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		log.Error("serve", "err", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}
