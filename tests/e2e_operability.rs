//! Operability: Prometheus metrics move after a log and a finish; JSON logs carry the
//! request's method and id.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{CliResult, cairn_bin, write_tree};

/// `cairn dev` with an admin port and JSON logs, killed by pid on drop.
struct Server {
    child: std::process::Child,
    url: String,
    admin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(root: &std::path::Path) -> Server {
    let mut child = Command::new(cairn_bin())
        .args(["dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--expiry-sweep-secs", "1"])
        .arg("--data-dir")
        .arg(root.join("data"))
        .env("CAIRN_LOG_FORMAT", "json")
        .env("CAIRN_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(root.join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = |line: String| line.split_whitespace().find(|w| w.starts_with("127.0.0.1:")).unwrap().to_owned();
    let url = format!("http://{}", address(lines.next().unwrap().unwrap()));
    let admin = address(lines.next().unwrap().unwrap());
    Server { child, url, admin }
}

fn scrape(admin: &str) -> String {
    let mut stream = std::net::TcpStream::connect(admin).unwrap();
    stream.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {admin}\r\n\r\n").as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the sample whose line starts with `series` (name and labels), or 0.
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn cli(server: &Server, cwd: &std::path::Path, args: &[&str]) -> CliResult {
    CliResult::from(
        Command::new(cairn_bin()).args(args).current_dir(cwd).env("CAIRN_SERVER", &server.url).output().unwrap(),
    )
}

#[test]
fn metrics_move_after_a_log_and_a_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path());
    let before = scrape(&server.admin);
    assert_eq!(value(&before, r#"cairn_commits_total{kind="log",result="new"}"#), 0.0);

    write_tree(&tmp.path().join("out"), &[("a.bin", &[1u8; 10_000]), ("b.bin", &[2u8; 5_000])]);
    cli(&server, tmp.path(), &["log", "out", "--name", "m", "--type", "t"]).ok();
    write_tree(&tmp.path().join("rank"), &[("r.bin", &[3u8; 7_000])]);
    cli(
        &server,
        tmp.path(),
        &["upsert", "rank", "--name", "d", "--type", "t", "--distributed-id", "j", "--writer", "w", "--seal"],
    )
    .ok();
    cli(&server, tmp.path(), &["finish", "--name", "d", "--distributed-id", "j"]).ok();
    cli(&server, tmp.path(), &["log", "out", "--name", "m", "--type", "t"]).ok();

    let after = scrape(&server.admin);
    assert_eq!(value(&after, r#"cairn_commits_total{kind="log",result="new"}"#), 1.0);
    assert_eq!(value(&after, r#"cairn_commits_total{kind="log",result="dedup"}"#), 1.0);
    assert_eq!(value(&after, r#"cairn_commits_total{kind="finish",result="new"}"#), 1.0);
    assert_eq!(value(&after, "cairn_storage_bytes_received_total"), 22_000.0);
    // Small files go many to a PutBlobs call: one for the log's two files, one for the rank's.
    assert_eq!(value(&after, "cairn_upload_seconds_count"), 2.0);
    assert_eq!(value(&after, r#"cairn_uploads_total{outcome="stored"}"#), 3.0);
    assert!(value(&after, r#"cairn_metastore_requests_total{backend="embedded",op="txn",outcome="ok"}"#) >= 3.0);
    assert!(value(&after, r#"cairn_blobstore_requests_total{backend="local",op="head_many",outcome="ok"}"#) >= 3.0);
    assert!(after.contains("cairn_open_drafts"), "{after}");
    assert!(!after.contains("name=\"m\""), "no artifact names as labels");

    // Keys by kind, counted by the expiry sweep (every second here): two artifacts with a
    // version each (the second log was a dedup), and the ended draft's record.
    let counted = support::wait_until(Duration::from_secs(10), || {
        value(&scrape(&server.admin), r#"cairn_meta_keys{kind="versions"}"#) == 2.0
    });
    let metrics = scrape(&server.admin);
    assert!(counted, "{metrics}");
    assert_eq!(value(&metrics, r#"cairn_meta_keys{kind="artifacts"}"#), 2.0);
    assert_eq!(value(&metrics, r#"cairn_meta_keys{kind="drafts"}"#), 1.0);
}

#[test]
fn json_logs_carry_the_request_method_and_id() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path());
    write_tree(&tmp.path().join("out"), &[("a.bin", b"a")]);
    cli(&server, tmp.path(), &["log", "out", "--name", "m", "--type", "t"]).ok();
    let log = std::fs::read_to_string(tmp.path().join("server.log")).unwrap();
    let committed = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .find(|l| l["fields"]["message"] == "version committed")
        .expect("the commit was logged");
    assert_eq!(committed["span"]["method"], "/cairn.v1.CoordinatorService/Log");
    assert_eq!(committed["span"]["request_id"].as_str().map(str::len), Some(32));
    assert_eq!(committed["fields"]["artifact"], "m");
}

mod collector {
    //! A minimal OTLP/gRPC trace collector that remembers the spans it receives.

    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
    use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    /// (span name, [(attribute, string value)]) of every span received.
    pub type Spans = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

    struct Collector {
        spans: Spans,
    }

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let mut spans = self.spans.lock().unwrap();
            for resource in request.into_inner().resource_spans {
                for scope in resource.scope_spans {
                    for span in scope.spans {
                        let attributes = span
                            .attributes
                            .into_iter()
                            .filter_map(|kv| match kv.value.and_then(|v| v.value) {
                                Some(Value::StringValue(s)) => Some((kv.key, s)),
                                _ => None,
                            })
                            .collect();
                        spans.push((span.name, attributes));
                    }
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    /// Starts a collector on a free loopback port; returns its endpoint and its spans.
    pub async fn start() -> (String, Spans, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let spans: Spans = Arc::default();
        let service = TraceServiceServer::new(Collector { spans: spans.clone() });
        let task = tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let _ = tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await;
        });
        (endpoint, spans, task)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_are_exported_to_an_otlp_collector() {
    let tmp = tempfile::tempdir().unwrap();
    let (endpoint, spans, collector) = collector::start().await;
    let mut child = Command::new(cairn_bin())
        .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .env("CAIRN_OTLP_ENDPOINT", &endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = format!("http://{}", line.split_whitespace().find(|w| w.starts_with("127.0.0.1:")).unwrap());
    write_tree(&tmp.path().join("out"), &[("a.bin", b"a")]);
    let cwd = tmp.path().to_path_buf();
    let logged = tokio::task::spawn_blocking(move || {
        CliResult::from(
            Command::new(cairn_bin())
                .args(["log", "out", "--name", "m", "--type", "t"])
                .current_dir(cwd)
                .env("CAIRN_SERVER", url)
                .output()
                .unwrap(),
        )
    })
    .await
    .unwrap();
    logged.ok();

    let exported = |spans: &collector::Spans| {
        spans.lock().unwrap().iter().any(|(name, attributes)| {
            name == "request"
                && attributes.iter().any(|(k, v)| k == "method" && v == "/cairn.v1.CoordinatorService/Log")
        })
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !exported(&spans) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no request span reached the collector: {:?}",
            spans.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    collector.abort();
}
