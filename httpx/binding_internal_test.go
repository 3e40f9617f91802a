package httpx

import (
	"net/http"
	"net/netip"
	"testing"

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
