package main

import (
	"bytes"
	"strings"
	"testing"
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
		if code := run([]string{"-data", t.TempDir(), "-store", spec}, env, &out); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		log := out.String()
		if !strings.Contains(log, "start-up failed") {
			t.Errorf("no start-up error logged:\n%s", log)
		}
		for i := 0; i+4 <= len(pw); i++ {
			if strings.Contains(log, pw[i:i+4]) {
				t.Errorf("log shows %q, a piece of the password:\n%s", pw[i:i+4], log)
				break
			}
		}
	}
}
