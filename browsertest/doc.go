// Package browsertest drives the sealedsession demo (cmd/demo) with a real,
// headless Chromium through the DevTools protocol (github.com/chromedp/chromedp).
//
// It lives in its own Go module,
// github.com/sealedsession/sealedsession/browsertest, so that the library's
// go.mod never requires chromedp and its dependencies: only this test needs
// them. The package has no API; its test builds the demo binary from the
// repository (go build ./cmd/demo, run from the repository root), starts it
// as a separate process on a free 127.0.0.1 port with an in-memory store,
// and checks in the browser what a user would see:
//
//   - the session cookie is __Host-session, HttpOnly, Secure, SameSite=Lax
//     with Path=/ (read through Network.getCookies), and document.cookie
//     does not show it;
//   - a growing cart splits the session into chunk cookies and is refused at
//     the size budget, leaving the cart and the login as they were;
//   - logging out removes every session cookie;
//   - "log out everywhere" in a second browser context ends the session of
//     the first;
//   - "Inside your session" (TestBrowserInsidePanel): the header fields, the
//     8-hex tag and never a 32-hex session ID or the sealed cookie in the
//     page, live countdowns (the inline script runs under the page's
//     Content-Security-Policy), and the SVG byte bar with every part drawn,
//     adding up to Session.HeaderBytes, with one boundary per chunk cut once
//     the cart has the session chunked; a forged cookie then gives the
//     plain-words warning in the amber box.
//
// TestBrowserInsidePanel writes screenshots (inside-one-cookie.png,
// inside-chunked.png, warning.png) to $SEALEDSESSION_SCREENSHOT_DIR when it
// is set, else to the test's artifact directory (t.ArtifactDir: kept under
// -outputdir with go test -artifacts), and logs their paths (go test -v).
//
// The test skips when no Chromium or Chrome binary is found (it looks for
// chromium, chromium-browser, google-chrome, google-chrome-stable, or the
// path in $CHROMIUM). With SEALEDSESSION_REQUIRE_CHROMIUM=1 a missing binary
// is a failure instead; scripts/test.sh sets it when chromium is installed.
//
// Run it from the repository root with
//
//	go test ./browsertest/...
//
// (the go.work file includes this module), or alone with
// cd browsertest && GOWORK=off go test ./...
package browsertest
