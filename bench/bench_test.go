package bench

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// allFactories are every contender that runs as an HTTP handler, the raw
// limit first.
var allFactories = append([]factory{
	{"raw", func(s Session, _ Seen) (*Contender, error) { c, _, err := NewRawFor(s); return c, err }},
	{"sealedsession", NewSealedSession},
}, peerFactories...)

func benchHandler(b *testing.B, c *Contender, m Mode) {
	h := c.Handler(m)
	tmpl := NewRequest(c.Cookie)
	w := NewWriter()
	Serve(h, tmpl, w)
	require.Contains(b, []int{0, http.StatusOK}, w.Code, "%s %s: status", c.Name, m)
	if m == ReadModifyWrite {
		require.NotEmpty(b, w.Header()["Set-Cookie"], "%s %s: no Set-Cookie", c.Name, m)
	}
	b.ReportAllocs()
	for b.Loop() {
		Serve(h, tmpl, w)
	}
	b.ReportMetric(float64(c.CookieBytes()), "cookie-bytes")
}

// BenchmarkRequest measures one request per contender, payload and mode:
// BenchmarkRequest/<payload>/<read|rmw>/<contender>. "codec" is
// sealedsession's sealed+codec packages with no HTTP (open+decode, or
// open+decode+encode+seal); "bare" is the harness alone.
func BenchmarkRequest(b *testing.B) {
	for _, p := range Payloads(time.Now()) {
		for _, m := range []Mode{ReadOnly, ReadModifyWrite} {
			b.Run(fmt.Sprintf("%s/%s/bare", p.Name, m), func(b *testing.B) {
				h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
				benchHandler(b, &Contender{Name: "bare", Read: h, RMW: h}, ReadOnly)
			})
			b.Run(fmt.Sprintf("%s/%s/codec", p.Name, m), func(b *testing.B) {
				od, err := NewOpenDecode(p.Session)
				require.NoError(b, err)
				now := time.Now()
				b.ReportAllocs()
				for b.Loop() {
					if m == ReadOnly {
						_, _, err = od.Read()
					} else {
						_, err = od.ReadModifyWrite(now)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(od.Text)+len("__Host-session=")), "cookie-bytes")
			})
			for _, f := range allFactories {
				b.Run(fmt.Sprintf("%s/%s/%s", p.Name, m, f.name), func(b *testing.B) {
					c, err := f.new(p.Session, nil)
					require.NoError(b, err)
					if c.Close != nil {
						b.Cleanup(c.Close)
					}
					benchHandler(b, c, m)
				})
			}
		}
	}
}

// BenchmarkScale measures sealedsession and gorilla/sessions against the
// payload size: BenchmarkScale/<bytes>/<read|rmw>/<contender>. A size a
// contender cannot store is skipped with the contender's own error, which
// the test output records (gorilla: "securecookie: the value is too long").
func BenchmarkScale(b *testing.B) {
	max, err := ScaleMax()
	require.NoError(b, err)
	sizes := append(append([]int(nil), ScaleSizes...), max)
	for _, n := range sizes {
		for _, m := range []Mode{ReadOnly, ReadModifyWrite} {
			for _, f := range []struct {
				name string
				new  func(int) (*Contender, error)
			}{{"sealedsession", NewSealedSessionScale}, {"gorilla", NewGorillaScale}} {
				b.Run(strconv.Itoa(n)+"/"+m.String()+"/"+f.name, func(b *testing.B) {
					c, err := f.new(n)
					if err != nil {
						b.Skipf("cannot store: %v", err)
					}
					b.SetBytes(int64(n))
					benchHandler(b, c, m)
				})
			}
		}
	}
}
