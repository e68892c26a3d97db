//! `cairn bench --quick` runs end to end and reports every figure it promises. Times are
//! not asserted here: performance is judged from the bench's own report, not by tests.

mod support;

#[test]
fn the_quick_bench_runs_every_scenario_and_reports_its_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(support::cairn_bin())
        .args(["bench", "--quick", "--json", "--dir"])
        .arg(tmp.path().join("work"))
        .output()
        .expect("run cairn bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "bench failed: {stdout} {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("CPU SHA extensions:"), "{stdout}");
    for scenario in ["(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(h)", "(i)"] {
        assert!(stdout.contains(scenario), "missing {scenario}: {stdout}");
    }
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["a_files"], 100);
    assert_eq!(json["c_files"], 1_000);
    assert_eq!(json["e_files"], 2_000, "4 writers x 500 files committed");
    assert_eq!(json["b_uploaded_bytes"], json["b_changed_bytes"], "only changed and added bytes are uploaded");
    assert_eq!(json["c_hashed_bytes"], 0, "the no-op re-log read no file");
    assert_eq!(json["g_files"], 2_000);
    assert_eq!(json["h_files"], 20_000);
    assert!(json["a_cpu_seconds_per_gib"].as_f64().unwrap() > 0.0, "client and server CPU were measured");
    assert!(json["g_download_seconds"].as_f64().unwrap() > 0.0);
    assert!(json["i_tls_seconds"].as_f64().unwrap() > 0.0, "the TLS-and-tokens server took logs");
    let relogged = json["g_relog_uploaded_bytes"].as_u64().unwrap();
    assert!(relogged > 0 && relogged < json["g_bytes"].as_u64().unwrap() / 10, "only the patched files moved");
    assert!(json["f_server_peak_rss_bytes"].as_u64().unwrap() > 0);
    assert!(json["f_client_peak_rss_bytes"].as_u64().unwrap() > 0);
    assert!(!tmp.path().join("work").exists(), "the bench cleans up after itself");
}
