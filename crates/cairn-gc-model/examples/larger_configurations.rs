//! The larger configurations of the collector's model (3 collectors, 2 pauses, up to 4
//! requests), too slow for the test command: run by hand with
//! `cargo run -p cairn-gc-model --release --example larger_configurations`.
//! Exits 1 when any configuration breaks an invariant.

use cairn_gc_model::{GcModel, check, large_scenarios};

fn main() {
    let mut failed = false;
    for scenario in large_scenarios() {
        let name = scenario.name;
        let started = std::time::Instant::now();
        let outcome = check(GcModel::new(scenario, None));
        println!("{name}: {} states in {:.1} s", outcome.unique_states, started.elapsed().as_secs_f64());
        if !outcome.violated.is_empty() {
            println!("  VIOLATED {:?} by {:?}", outcome.violated, outcome.counterexample);
            failed = true;
        }
    }
    std::process::exit(i32::from(failed));
}
