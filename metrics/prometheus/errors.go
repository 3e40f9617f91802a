package promsession

import "errors"

// ErrConfig means the Options given to New are unusable: a namespace that
// is not a valid metric name prefix, or histogram buckets that are not
// strictly increasing. The error New returns wraps it with the details.
var ErrConfig = errors.New("promsession: invalid options")

// ErrRegister means the metrics could not be registered with
// Options.Registerer, most often because another Metrics with the same
// Namespace and ConstLabels is already registered there. The error New
// returns wraps it together with client_golang's own error (for example a
// prometheus.AlreadyRegisteredError, reachable with errors.As).
var ErrRegister = errors.New("promsession: cannot register metrics")
