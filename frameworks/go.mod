module github.com/sealedsession/sealedsession/frameworks

go 1.26.0

replace (
	github.com/sealedsession/sealedsession => ../
	github.com/sealedsession/sealedsession/frameworks/ginsession => ./ginsession
)

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/labstack/echo/v4 v4.16.0
	github.com/sealedsession/sealedsession v0.0.0-00010101000000-000000000000
)

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
