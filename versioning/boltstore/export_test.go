package boltstore

// SetMinSweep lowers the sweep threshold for a test and restores it after.
func SetMinSweep(n int) (restore func()) {
	old := minSweep
	minSweep = n
	return func() { minSweep = old }
}
