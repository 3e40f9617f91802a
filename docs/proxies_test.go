package docs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
)

// raisedManager is the snippet of docs/proxies.md.
func raisedManager(keys *sealed.Keyring) (*httpx.Manager, error) {
	// docs:begin proxies-raised
	m, err := httpx.New(httpx.Config{
		Keys:   keys,
		Cookie: httpx.CookieConfig{MaxHeaderBytes: 12288},
	})
	// docs:end
	return m, err
}

func TestProxiesRaised(t *testing.T) {
	_, err := raisedManager(newKeys(t))
	require.NoError(t, err)
}
