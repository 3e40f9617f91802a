package boltstore

// Compactions returns how many times the file was compacted.
func (s *Store) Compactions() int64 { return s.compacts.Load() }
