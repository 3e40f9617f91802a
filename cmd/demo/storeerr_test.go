package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStoreErrorsHidePassword starts the demo with -store values that
// carry a Redis password and are malformed or unreachable: start-up
// fails, and no log line shows any piece of the password.
func TestStoreErrorsHidePassword(t *testing.T) {
	const pw = "Corr3ct-H0rse-Batt3ry"
	env := func(string) string { return "" }
	for _, spec := range []string{
		"redis://app:" + pw + "%zz@127.0.0.1:6379/0",
		"redis://app:Corr3ct/H0rse-Batt3ry@127.0.0.1:6379/0",
		"redis://app:" + pw + "@127.0.0.1:6379/zero",
		"redis:/app:" + pw + "@127.0.0.1:6379/0",
		"redis://app:" + pw + "@127.0.0.1:1/0",
	} {
		var out bytes.Buffer
		assert.Equal(t, 1, run([]string{"-data", t.TempDir(), "-store", spec}, env, &out), "exit code")
		log := out.String()
		assert.Contains(t, log, "start-up failed", "no start-up error logged")
		for i := 0; i+4 <= len(pw); i++ {
			if !assert.NotContains(t, log, pw[i:i+4], "log shows a piece of the password") {
				break
			}
		}
	}
}
