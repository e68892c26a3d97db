//! The configurations the checker explores: each a starting store, the requests that race
//! the collectors, how many collectors run (one collection each) and how many times one of
//! them may be paused past its lease.

use crate::model::Set;

/// A request the model runs, as one client would send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `cairn log` of the blobs `blobs` (a bit set): with `find_missing_first` the client
    /// asks FindMissingBlobs and uploads only what is missing; with `reuse_latest` the
    /// coordinator takes the latest version's blobs as stored without looking.
    Log { blobs: Set, find_missing_first: bool, reuse_latest: bool },
    /// One writer's upsert of `blobs` into the open draft `draft`.
    Upsert { draft: u8, blobs: Set },
    /// A finish of the draft `draft`.
    Finish { draft: u8 },
    /// `cairn edit` of the latest version, adding `add`: opens a draft based on it, then
    /// finishes it.
    Edit { add: Set },
    /// `cairn delete` of the newest version (a TTL that passed deletes the same way).
    DeleteNewest,
    /// `cairn delete` of the oldest version.
    DeleteOldest,
    /// A retention policy keeping the newest `keep_last` versions.
    Retention { keep_last: u8 },
}

/// One configuration to check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scenario {
    pub name: &'static str,
    /// Blobs in the store at the start (a bit set).
    pub present: Set,
    /// Committed versions at the start, oldest first, by the blobs they refer to.
    pub versions: Vec<Set>,
    /// Open drafts at the start, by the blobs they staged.
    pub drafts: Vec<Set>,
    pub requests: Vec<RequestKind>,
    /// Collectors, each running one collection (one at a time unless one is paused).
    pub collectors: u8,
    /// How many times a collector may stall past its lease while the others go on.
    pub pauses: u8,
}

const B0: Set = 0b01;
const B1: Set = 0b10;

fn scenario(name: &'static str, versions: Vec<Set>, drafts: Vec<Set>, requests: Vec<RequestKind>) -> Scenario {
    Scenario { name, present: B0 | B1, versions, drafts, requests, collectors: 2, pauses: 1 }
}

/// The small configurations of the test command: 2 blobs (b0 referenced by v0, b1 stored
/// but unreferenced unless a draft staged it), 2 collectors, 1 pause, 2 or 3 requests.
pub fn scenarios() -> Vec<Scenario> {
    use RequestKind::*;
    vec![
        // A long-lived draft finishes while a collection marks (finding 1).
        scenario("finish during a collection", vec![B0], vec![B1], vec![Finish { draft: 0 }, DeleteNewest]),
        // A client re-logs an old unreferenced blob that FindMissingBlobs calls present,
        // while collectors run, pause and fail over (findings 2, 3).
        scenario(
            "re-log of an unreferenced blob",
            vec![B0],
            vec![],
            vec![Log { blobs: B1, find_missing_first: true, reuse_latest: false }],
        ),
        // A log takes the latest version's blobs as stored while that version is deleted
        // (finding 4), and an identical re-log dedups onto it.
        scenario(
            "log reusing the latest version",
            vec![B0],
            vec![],
            vec![Log { blobs: B0 | B1, find_missing_first: false, reuse_latest: true }, DeleteNewest],
        ),
        scenario(
            "dedup onto the latest version",
            vec![B0],
            vec![],
            vec![Log { blobs: B0, find_missing_first: false, reuse_latest: true }, DeleteNewest],
        ),
        // An edit of a version being deleted (finding 5).
        scenario("edit of a version being deleted", vec![B0], vec![], vec![Edit { add: B1 }, DeleteNewest]),
        // A writer upserts an unreferenced blob into a draft that then finishes.
        scenario(
            "upsert then finish",
            vec![B0],
            vec![0],
            vec![Upsert { draft: 0, blobs: B1 }, Finish { draft: 0 }, DeleteNewest],
        ),
        // Retention runs while a user deletes the newest version (finding 7).
        scenario("retention beside a delete", vec![B0, B1], vec![], vec![Retention { keep_last: 1 }, DeleteNewest]),
    ]
}

/// Larger configurations, run by hand (`cargo run -p cairn-gc-model --release --example larger_configurations`):
/// 3 collectors, 2 pauses,
/// more requests at once.
pub fn large_scenarios() -> Vec<Scenario> {
    use RequestKind::*;
    let mut large = vec![
        Scenario {
            name: "large: upserts, finish, edit and delete",
            present: B0 | B1,
            versions: vec![B0],
            drafts: vec![0],
            requests: vec![Upsert { draft: 0, blobs: B1 }, Finish { draft: 0 }, Edit { add: B1 }, DeleteNewest],
            collectors: 3,
            pauses: 2,
        },
        Scenario {
            name: "large: logs, retention and deletes",
            present: B0 | B1,
            versions: vec![B0, B1],
            drafts: vec![],
            requests: vec![
                Log { blobs: B0 | B1, find_missing_first: true, reuse_latest: true },
                Retention { keep_last: 1 },
                DeleteNewest,
                DeleteOldest,
            ],
            collectors: 3,
            pauses: 2,
        },
    ];
    for small in scenarios() {
        large.push(Scenario { collectors: 3, pauses: 2, ..small });
    }
    large
}
