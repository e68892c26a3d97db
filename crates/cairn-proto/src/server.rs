//! Serving the API: every cairn server adds `grpc.health.v1` and reflection (v1 and
//! v1alpha) to its own services, reports SERVING for them, and on SIGINT/SIGTERM reports
//! NOT_SERVING and drains in-flight requests before returning.

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::server::Router;
use tonic_health::ServingStatus;

/// Serves `add_services(base router)` on `listener` until a shutdown signal, over TLS when
/// `tls` says so. `service_names` are the fully qualified names reported as SERVING by the
/// health service.
pub async fn serve(
    listener: TcpListener,
    tls: &crate::tls::TlsArgs,
    limits: &ConnectionLimits,
    service_names: &[&str],
    add_services: impl FnOnce(Router) -> Router,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Reflection in both versions: grpcurl before 1.9 and many GUI clients only speak
    // v1alpha. google.rpc's types are served too, so that tools print a refusal's ErrorInfo.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    for name in service_names {
        health_reporter.set_service_status(*name, ServingStatus::Serving).await;
    }
    // HTTP/2 windows sized for ~1 MiB chunks: the 64 KiB defaults stall bulk streams.
    let mut builder = tonic::transport::Server::builder()
        .trace_fn(request_span)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .tcp_nodelay(true)
        // A peer that stops answering pings (crashed, partitioned, half-open) is
        // disconnected, freeing its streams; and no connection holds unbounded calls.
        .http2_keepalive_interval(Some(limits.keepalive()))
        .http2_keepalive_timeout(Some(limits.keepalive()))
        .max_concurrent_streams(Some(limits.max_concurrent_streams.max(1)));
    let router =
        add_services(builder.add_service(health_service).add_service(reflection_v1).add_service(reflection_v1alpha));
    let names: Vec<String> = service_names.iter().map(|s| s.to_string()).collect();
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: reporting NOT_SERVING and draining requests");
        for name in &names {
            health_reporter.set_service_status(name, ServingStatus::NotServing).await;
        }
    };
    let served = if tls.enabled() {
        router.serve_with_incoming_shutdown(crate::tls::incoming(listener, tls)?, shutdown).await
    } else {
        router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown).await
    };
    shutdown_tracing();
    served?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

/// Limits every gRPC listener puts on its connections.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionLimits {
    /// Seconds between HTTP/2 pings on a connection; a peer that does not answer one within
    /// as long is disconnected and its calls end.
    #[arg(long, env = "CAIRN_HTTP2_KEEPALIVE_SECS", default_value_t = 30)]
    pub http2_keepalive_secs: u64,
    /// Most calls (HTTP/2 streams) one connection may have open at once; more wait.
    #[arg(long, env = "CAIRN_MAX_CONCURRENT_STREAMS", default_value_t = 256)]
    pub max_concurrent_streams: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { http2_keepalive_secs: 30, max_concurrent_streams: 256 }
    }
}

impl ConnectionLimits {
    fn keepalive(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.http2_keepalive_secs.max(1))
    }
}

/// HTTP/2 stream window of servers and clients: room for several 1 MiB chunks in flight.
pub const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
/// HTTP/2 connection window: several streams' worth.
pub const CONNECTION_WINDOW: u32 = 32 * 1024 * 1024;

/// HTTP/2 frame size servers and clients accept: a 1 MiB chunk in a few frames, not 64.
pub const MAX_FRAME: u32 = 1024 * 1024;

/// Full name of the coordinator service, as health checks name it.
pub const COORDINATOR_SERVICE: &str = "cairn.v1.CoordinatorService";
/// Full name of the storage service, as health checks name it.
pub const STORAGE_SERVICE: &str = "cairn.v1.StorageService";

/// The address a server advertises: the flag, or `<scheme>://<bound>` when it listens on
/// a specific IP (an address on all interfaces is not one others can dial).
pub fn advertise_address(flag: Option<&str>, bound: std::net::SocketAddr, scheme: &str) -> Result<String, String> {
    match flag {
        Some(address) => Ok(address.to_owned()),
        None if bound.ip().is_unspecified() => {
            Err(format!("listening on {bound}: give --advertise with an address other processes can reach"))
        }
        None => Ok(format!("{scheme}://{bound}")),
    }
}

/// The span every request runs in: the gRPC method and a request id (the caller's
/// `x-request-id`, else a new one), so every log line of a request can be found.
fn request_span(request: &http::Request<()>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    tracing::info_span!("request", method = %request.uri().path(), request_id = %request_id)
}

/// Serves Prometheus metrics at `/metrics` on the admin listener until the process ends.
pub async fn serve_admin(listener: TcpListener) -> std::io::Result<()> {
    let app = axum::Router::new().route("/metrics", axum::routing::get(metrics_text));
    axum::serve(listener, app).await
}

async fn metrics_text() -> ([(&'static str, &'static str); 1], String) {
    let encoder = prometheus::TextEncoder::new();
    let body = encoder.encode_to_string(&prometheus::gather()).unwrap_or_default();
    ([("content-type", "text/plain; version=0.0.4")], body)
}

/// Binds the admin listener when one is configured, prints its address, and serves it.
pub async fn spawn_admin(address: Option<std::net::SocketAddr>) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let Some(address) = address else { return Ok(None) };
    let listener = TcpListener::bind(address).await.map_err(|e| format!("cannot listen on {address} (admin): {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("cairn admin listening on {bound} (/metrics)");
    Ok(Some(tokio::spawn(async move {
        if let Err(err) = serve_admin(listener).await {
            tracing::warn!(error = %err, "admin server stopped");
        }
    })))
}

/// The OTLP trace pipeline, kept to flush it at exit.
static TRACER_PROVIDER: std::sync::OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> = std::sync::OnceLock::new();

/// Installs logging: `CAIRN_LOG` sets the filter (default `default_level`), and
/// `CAIRN_LOG_FORMAT=json` switches to one JSON object per line, with the request span.
/// With `CAIRN_OTLP_ENDPOINT` (e.g. `http://otel-collector:4317`) spans are also exported
/// to an OTLP/gRPC collector; that needs a Tokio runtime to be entered.
pub fn init_logging(default_level: &str) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let json = std::env::var("CAIRN_LOG_FORMAT").is_ok_and(|f| f == "json");
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().with_current_span(true).with_span_list(false).boxed()
    } else {
        fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).boxed()
    };
    let otlp =
        std::env::var("CAIRN_OTLP_ENDPOINT").ok().filter(|e| !e.is_empty()).and_then(|endpoint| {
            match otlp_layer(&endpoint) {
                Ok(layer) => Some(layer),
                Err(err) => {
                    eprintln!("warning: OTLP export to {endpoint} disabled: {err}");
                    None
                }
            }
        });
    let _ = tracing_subscriber::registry().with(filter).with(fmt).with(otlp).try_init();
}

/// A layer exporting spans to an OTLP/gRPC collector in batches.
fn otlp_layer<S>(endpoint: &str) -> Result<impl tracing_subscriber::Layer<S> + use<S>, String>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig as _;

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| e.to_string())?;
    let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
        exporter,
        opentelemetry_sdk::runtime::Tokio,
    )
    .build();
    let resource = opentelemetry_sdk::Resource::builder().with_service_name("cairn").build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("cairn");
    let _ = TRACER_PROVIDER.set(provider);
    Ok(tracing_opentelemetry::layer().with_tracer(tracer))
}

/// Flushes exported spans; call before a server exits.
pub fn shutdown_tracing() {
    if let Some(provider) = TRACER_PROVIDER.get() {
        let _ = provider.shutdown();
    }
}
