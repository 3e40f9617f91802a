package httpx

import (
	"net/http"
	"net/netip"
	"testing"
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
			if err != nil || !ap.Addr().Is4() || ap.Addr().As4() != a {
				t.Errorf("ipv4Host(%q) = %v but netip says %v, %v", s, a, ap, err)
			}
		} else if err == nil && ap.Addr().Is4() && s == ap.String() {
			t.Errorf("ipv4Host(%q) refused a canonical IPv4 address and port", s)
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
		if !ok {
			t.Fatalf("clientNet(%q) failed", s)
		}
		if got, want := m.netHash(r), addrHash(p.Addr()); got != want {
			t.Errorf("netHash(%q) = %#x, hash of the masked prefix %v = %#x", s, got, p, want)
		}
	}
	a := m.netHash(&http.Request{RemoteAddr: "192.0.2.1:1"})
	if b := m.netHash(&http.Request{RemoteAddr: "192.0.3.1:1"}); a == b {
		t.Errorf("two /24s hash alike (%#x)", a)
	}
	if b := m.netHash(&http.Request{RemoteAddr: "192.0.2.200:9"}); a != b {
		t.Errorf("one /24 hashes differently: %#x vs %#x", a, b)
	}
}
