//! The checker over the protocol: the fixed protocol keeps every invariant in every small
//! configuration, every seeded bug is found, and every action is named in the code.

use cairn_gc_model::{ACTION_NAMES, GcModel, SeededBug, check, scenarios};

/// States the small configurations reach in all (the checker is exhaustive and
/// deterministic: a change to the model or the configurations changes this number).
const SMALL_STATES: usize = 466_475;

#[test]
fn the_fixed_protocol_keeps_every_invariant_in_every_small_configuration() {
    let mut states = 0;
    for scenario in scenarios() {
        let name = scenario.name;
        let outcome = check(GcModel::new(scenario, None));
        assert!(outcome.violated.is_empty(), "{name}: {:?} violated by {:?}", outcome.violated, outcome.counterexample);
        println!("{name}: {} states", outcome.unique_states);
        states += outcome.unique_states;
        // Collections that never delete, or requests that never commit, would make the
        // invariants hold vacuously.
        assert!(outcome.never_seen.is_empty(), "{name}: never {:?}", outcome.never_seen);
    }
    println!("{states} states in all");
    assert_eq!(states, SMALL_STATES, "states explored");
}

#[test]
fn the_checker_finds_a_counterexample_for_every_seeded_bug() {
    let bugs = [
        SeededBug::MarkNotAtOneRevision,
        SeededBug::StaleCollector,
        SeededBug::NoLeaseFence,
        SeededBug::NoCondemnHandshake,
        SeededBug::LogSkipUnfenced,
        SeededBug::EditBaseUnfenced,
        SeededBug::NoGenerationFence,
        SeededBug::RetentionUncompared,
    ];
    for bug in bugs {
        let found = scenarios().into_iter().find_map(|scenario| {
            let name = scenario.name;
            let outcome = check(GcModel::new(scenario, Some(bug)));
            (!outcome.violated.is_empty()).then_some((name, outcome))
        });
        let Some((name, outcome)) = found else { panic!("{bug:?}: no counterexample in any configuration") };
        println!("{bug:?}: {:?} in {name:?}: {:?}", outcome.violated, outcome.counterexample.unwrap_or_default());
    }
}

#[test]
fn every_model_action_is_named_in_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut code = String::new();
    for dir in ["services", "crates/cairn-client/src", "crates/cairn-blob/src", "crates/cairn-meta/src"] {
        collect_sources(&root.join(dir), &mut code);
    }
    let missing: Vec<&str> =
        ACTION_NAMES.iter().copied().filter(|name| !code.contains(&format!("// model: {name}"))).collect();
    assert!(missing.is_empty(), "model actions no `// model:` comment names: {missing:?}");
}

fn collect_sources(dir: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}
