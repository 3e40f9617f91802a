package httpx

import (
	"fmt"
	"hash/maphash"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIPv4HostAgreesWithNetip: the fast path accepts only what netip
// parses, and then gives the same address.
func TestIPv4HostAgreesWithNetip(t *testing.T) {
	for _, s := range []string{
		"192.0.2.1:1234", "0.0.0.0:1", "255.255.255.255:65535", "10.1.2.3:0",
		"01.2.3.4:5", "1.2.3.4", "1.2.3.4:", "1.2.3:4", "256.1.1.1:1", "1.2.3.4:x", "[::1]:80",
		"::ffff:1.2.3.4", "1.2.3.4.5:6", "", "1..2.3:4", "1.2.3.4:5:6", "1234.1.1.1:1",
	} {
		a, ok := ipv4Host(s)
		ap, err := netip.ParseAddrPort(s)
		if ok {
			if assert.NoError(t, err, "ipv4Host(%q) = %v but netip refuses it", s, a) &&
				assert.True(t, ap.Addr().Is4(), "ipv4Host(%q) = %v but netip says %v", s, a, ap) {
				assert.Equal(t, ap.Addr().As4(), a, "ipv4Host(%q) disagrees with netip", s)
			}
		} else {
			assert.False(t, err == nil && ap.Addr().Is4() && s == ap.String(), "ipv4Host(%q) refused a canonical IPv4 address and port", s)
		}
	}
}

func FuzzIPv4Host(f *testing.F) {
	f.Add("192.0.2.1:1234")
	f.Add("01.2.3.4:5")
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ipv4Host(s)
		if !ok {
			return
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil || !ap.Addr().Is4() || ap.Addr().As4() != a {
			t.Fatalf("ipv4Host(%q) = %v; netip: %v, %v", s, a, ap, err)
		}
	})
}

// TestNetHashFastPath: netHash, which hashes the client's address without
// masking it, gives the hash of the coarse prefix clientNet computes.
func TestNetHashFastPath(t *testing.T) {
	m := &Manager{}
	for _, s := range []string{"192.0.2.1:1234", "192.0.2.254:1", "10.1.2.3:0", "255.255.255.255:65535", "[2001:db8:1:2::5]:443", "[::ffff:192.0.2.9]:80", "[fe80::1%eth0]:8080"} {
		r := &http.Request{RemoteAddr: s}
		p, ok := m.clientNet(r)
		require.True(t, ok, "clientNet(%q) failed", s)
		assert.Equal(t, addrHash(p.Addr()), m.netHash(r), "netHash(%q) against the hash of the masked prefix %v", s, p)
	}
	a := m.netHash(&http.Request{RemoteAddr: "192.0.2.1:1"})
	assert.NotEqual(t, a, m.netHash(&http.Request{RemoteAddr: "192.0.3.1:1"}), "two /24s hash alike")
	assert.Equal(t, a, m.netHash(&http.Request{RemoteAddr: "192.0.2.200:9"}), "one /24 hashes differently")
}

// TestUACache: the cache's answer is always FNV-1a of the exact string
// (hits, misses, slot collisions, lengths outside the cached range, a nil
// cache), it keeps copies, and it stays within its bounds.
func TestUACache(t *testing.T) {
	c := newUACache()
	uas := []string{
		"", "curl/8.5.0", // shorter than uaCacheMinLen: never cached
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.37",
		strings.Repeat("x", uaCacheMaxLen), strings.Repeat("y", uaCacheMaxLen+1),
	}
	// Far more distinct strings than slots: every slot is overwritten
	// many times, and each answer must still be the string's own hash.
	for i := range 8 * uaCacheSlots {
		uas = append(uas, fmt.Sprintf("Mozilla/5.0 (client %06d) AppleWebKit/537.36", i))
	}
	for round := range 3 {
		for _, ua := range uas {
			require.Equal(t, fnv32s(fnvOffset32, ua), c.hash(ua), "round %d, %q", round, ua)
		}
	}
	var nilCache *uaCache
	assert.Equal(t, fnv32s(fnvOffset32, uas[2]), nilCache.hash(uas[2]), "nil cache")

	kept := 0
	for i := range c.slots {
		e := c.slots[i].Load()
		if e == nil {
			continue
		}
		kept++
		assert.GreaterOrEqual(t, len(e.ua), uaCacheMinLen, "slot %d", i)
		assert.LessOrEqual(t, len(e.ua), uaCacheMaxLen, "slot %d", i)
		assert.Equal(t, fnv32s(fnvOffset32, e.ua), e.h, "slot %d", i)
	}
	assert.Greater(t, kept, uaCacheSlots/2, "the cache kept almost nothing")

	// A string sent again and again gets in after a few misses, and the
	// entry is a copy: a caller's buffer is not kept alive.
	buf := []byte(strings.Repeat("z", 100))
	ua := unsafe.String(&buf[0], len(buf))
	slot := &c.slots[maphash.String(c.seed, ua)%uaCacheSlots]
	misses := 0
	for ; misses < 1000; misses++ {
		if e := slot.Load(); e != nil && e.ua == ua {
			break
		}
		c.hash(ua)
	}
	require.Less(t, misses, 1000, "a string sent 1000 times never got in")
	assert.NotSame(t, unsafe.StringData(ua), unsafe.StringData(slot.Load().ua), "the cache kept the caller's bytes")
}

// TestUACacheConcurrent: lookups and replacements from many goroutines on
// a few colliding strings always give the right hash (run with -race).
func TestUACacheConcurrent(t *testing.T) {
	c := newUACache()
	var uas []string
	for i := range 64 {
		uas = append(uas, fmt.Sprintf("Mozilla/5.0 (concurrent client %04d) Gecko/20100101", i))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				ua := uas[(i*7+g)%len(uas)]
				if got := c.hash(ua); got != fnv32s(fnvOffset32, ua) {
					t.Errorf("hash(%q) = %x", ua, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
