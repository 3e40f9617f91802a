package httpx

import (
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
