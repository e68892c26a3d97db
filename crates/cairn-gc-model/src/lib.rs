//! A model of cairn's garbage-collection protocol, for the `stateright` model checker.
//!
//! The model is the protocol, not the code: blobs are bits of a set, the MetaStore is a
//! handful of fields changed atomically, and every step that the real code performs as one
//! MetaStore transaction or one object-store call is one action. The checker explores every
//! interleaving of the collectors' and the requests' actions in a small configuration and
//! checks the invariants:
//!
//! - **committed versions are whole**: every blob a live version refers to is in the store;
//! - **open drafts are whole**: every blob an open draft staged, and its base's, is stored;
//! - **retention keeps its count**: retention never deletes one of the newest `keep_last`.
//!
//! and, so that no check is vacuous, that garbage is sometimes collected and requests
//! sometimes commit. There is no clock: every collection runs with a grace period of 0, the
//! worst case, so safety never rests on an object's age.
//!
//! Each action is named in a `// model: ActionName` comment at the code step that performs
//! it (a test checks that every action is named somewhere in the code), and
//! docs/lifecycle.md states the safety argument claim by claim from this model.
//!
//! [`SeededBug`] puts back one of the races found in review; a permanent test asserts that
//! the checker finds a counterexample for every one of them and none for the fixed protocol.

mod model;
mod scenarios;

pub use model::{Action, CollectorPhase, GcModel, SeededBug, State};
pub use scenarios::{Scenario, large_scenarios, scenarios};

use stateright::{Checker, Model};

/// What checking one model found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// States reached (each counted once).
    pub unique_states: usize,
    /// Names of the `always` properties a counterexample was found for.
    pub violated: Vec<&'static str>,
    /// Names of the `sometimes` properties no example was found for.
    pub never_seen: Vec<&'static str>,
    /// A counterexample found, as the actions that lead to it.
    pub counterexample: Option<Vec<Action>>,
}

/// Explores every state of `model`. Counterexamples are short but not always the shortest:
/// the checker visits states in no fixed breadth-first order.
pub fn check(model: GcModel) -> Outcome {
    let properties = model.properties();
    let checker = model.checker().spawn_bfs().join();
    let mut violated = Vec::new();
    let mut never_seen = Vec::new();
    let mut counterexample = None;
    for property in &properties {
        let found = checker.discovery(property.name);
        match property.expectation {
            stateright::Expectation::Always => {
                if let Some(path) = found {
                    violated.push(property.name);
                    counterexample.get_or_insert_with(|| path.into_actions());
                }
            }
            stateright::Expectation::Sometimes => {
                if found.is_none() {
                    never_seen.push(property.name);
                }
            }
            stateright::Expectation::Eventually => {}
        }
    }
    Outcome { unique_states: checker.unique_state_count(), violated, never_seen, counterexample }
}

/// Every action name of the model (each must be named by a `// model:` comment in the code).
pub const ACTION_NAMES: &[&str] = &[
    "ClaimLeader",
    "OpenGeneration",
    "MarkSnapshot",
    "ListCandidates",
    "Condemn",
    "ReadJournals",
    "DeleteBlob",
    "FinishCollection",
    "LeaseExpires",
    "FindMissing",
    "ResolveLatest",
    "Journal",
    "CheckCondemned",
    "CheckStored",
    "Upload",
    "CommitVersion",
    "SaveDraft",
    "OpenEditDraft",
    "FinishDraft",
    "DeleteVersion",
    "RetentionCount",
    "RetentionDelete",
];
