package otelsession

import "errors"

// ErrInstrument means the meter refused to create one of the instruments.
// The error New returns wraps it together with the meter's own error.
var ErrInstrument = errors.New("otelsession: cannot create instrument")
