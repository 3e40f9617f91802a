package otelsession_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sealedsession/sealedsession/httpx"
	otelsession "github.com/sealedsession/sealedsession/metrics/otel"
	"github.com/sealedsession/sealedsession/sealed"
)

func ExampleNew() {
	// In production: the application's MeterProvider (or leave it nil for
	// the global one) and an exporter; here an in-memory reader.
	reader := sdkmetric.NewManualReader()
	obs, err := otelsession.New(otelsession.Options{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		panic(err)
	}
	key, _ := sealed.GenerateKey() // in production: sealed.ParseKeyring(os.Getenv("SESSION_KEYS"))
	keys, _ := sealed.NewKeyring(key)
	mgr, err := httpx.New(httpx.Config{Keys: keys, Observer: obs})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.FromContext(r.Context()).AddFlash("welcome") // any change creates the session
	})

	// The span of each request, as otelhttp.NewHandler would start it;
	// the session's events land on it.
	spans := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("app")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "GET /")
		defer span.End()
		mgr.Wrap(app).ServeHTTP(w, r.WithContext(ctx))
	})

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "https://example.test/", nil))
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "https://example.test/", nil))

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && len(sum.DataPoints) > 0 {
			fmt.Println(m.Name, sum.DataPoints[0].Value)
		}
	}
	for _, e := range spans.Ended()[0].Events() {
		fmt.Println(e.Name)
	}
	// Output:
	// sealedsession.sessions.created 2
	// sealedsession.session.created
}
