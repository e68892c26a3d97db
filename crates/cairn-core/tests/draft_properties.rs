//! Property tests of the draft rules: interleavings, conflicts, version indices.

use cairn_core::{
    ArtifactRecord, ConflictPolicy, CoreError, Digest, DraftRecord, Entry, EntryPath, FinishDecision, ManifestWriter,
    StagedIndex, version_digest,
};
use proptest::prelude::*;

fn entry(path: &str, content: &str) -> Entry {
    Entry { path: EntryPath::parse(path).unwrap(), sha256: Digest::of(content.as_bytes()), size: content.len() as u64 }
}

fn new_draft() -> DraftRecord {
    DraftRecord::new("uid".into(), "p", "a", "job", "dataset", ConflictPolicy::Reject, None, 0, 0)
}

/// Applies one upsert the way the coordinator does: validate and record, then apply.
fn upsert(draft: &mut DraftRecord, index: &mut StagedIndex, writer: &str, puts: &[Entry]) -> Result<(), CoreError> {
    let mut next = draft.clone();
    let op = next.upsert(index, writer, puts, &[], None, false, 1)?;
    *draft = next;
    if let Some(op) = op {
        index.apply(&op);
    }
    Ok(())
}

fn finished_digest(draft: &mut DraftRecord, index: &StagedIndex) -> Digest {
    assert_eq!(draft.begin_finish(true, None).unwrap(), FinishDecision::Commit);
    let mut writer = ManifestWriter::new();
    for e in index.entries() {
        writer.push(&e).unwrap();
    }
    writer.finish().0
}

/// Per-writer batches of entries whose paths are disjoint across writers. Generated names
/// start with `f` so that none is a Windows device name (`aux`, `con`, …), which paths refuse.
fn writer_batches() -> impl Strategy<Value = Vec<Vec<Vec<Entry>>>> {
    (1usize..6).prop_flat_map(|writers| {
        proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(("f[a-z]{0,3}", "[a-z]{0,3}"), 0..5), 1..4),
            writers,
        )
        .prop_map(|per_writer| {
            per_writer
                .into_iter()
                .enumerate()
                .map(|(w, batches)| {
                    batches
                        .into_iter()
                        .map(|batch| {
                            let mut seen = std::collections::BTreeSet::new();
                            batch
                                .into_iter()
                                .filter(|(name, _)| seen.insert(name.clone()))
                                .map(|(name, content)| entry(&format!("w{w}/{name}"), &content))
                                .collect()
                        })
                        .collect()
                })
                .collect()
        })
    })
}

proptest! {
    #[test]
    fn any_interleaving_of_non_conflicting_upserts_gives_the_same_digest(
        batches in writer_batches(),
        schedule in proptest::collection::vec(0usize..64, 0..64),
    ) {
        // Reference: every writer's batches in writer order.
        let mut reference_draft = new_draft();
        let mut reference_index = StagedIndex::default();
        for (w, writer_batches) in batches.iter().enumerate() {
            for batch in writer_batches {
                upsert(&mut reference_draft, &mut reference_index, &format!("w{w}"), batch).unwrap();
            }
        }
        // Interleaved: the schedule picks which writer sends its next batch.
        let mut draft = new_draft();
        let mut index = StagedIndex::default();
        let mut cursors = vec![0usize; batches.len()];
        let mut picks = schedule.into_iter();
        while cursors.iter().zip(&batches).any(|(c, b)| *c < b.len()) {
            let pending: Vec<usize> = (0..batches.len()).filter(|&w| cursors[w] < batches[w].len()).collect();
            let w = pending[picks.next().unwrap_or(0) % pending.len()];
            upsert(&mut draft, &mut index, &format!("w{w}"), &batches[w][cursors[w]]).unwrap();
            cursors[w] += 1;
        }
        let union: Vec<Entry> = reference_index.entries().collect();
        prop_assert_eq!(index.entries().collect::<Vec<_>>(), union.clone());
        let digest = finished_digest(&mut draft, &index);
        prop_assert_eq!(digest, finished_digest(&mut reference_draft, &reference_index));
        prop_assert_eq!(digest, version_digest(&union).unwrap());
    }

    #[test]
    fn a_conflicting_path_is_always_detected_and_changes_nothing(
        shared in "f[a-z]{0,3}",
        first in "[a-z]{1,3}",
        second in "[A-Z]{1,3}",
        others in proptest::collection::vec("f[a-z]{0,3}", 0..6),
        second_goes_first in any::<bool>(),
    ) {
        let mut draft = new_draft();
        let mut index = StagedIndex::default();
        let (a, b) = if second_goes_first { ("w2", "w1") } else { ("w1", "w2") };
        let distinct: std::collections::BTreeSet<&String> = others.iter().collect();
        let mut batch_a: Vec<Entry> = distinct.into_iter().map(|o| entry(&format!("{a}/{o}"), o)).collect();
        batch_a.push(entry(&shared, &first));
        upsert(&mut draft, &mut index, a, &batch_a).unwrap();
        let before = (draft.clone(), index.entries().collect::<Vec<_>>());
        let err = upsert(&mut draft, &mut index, b, &[entry("unique-to-b", "x"), entry(&shared, &second)]).unwrap_err();
        prop_assert_eq!(err.reason(), "PATH_CONFLICT");
        prop_assert_eq!(&draft, &before.0);
        prop_assert_eq!(index.entries().collect::<Vec<_>>(), before.1);
    }

    #[test]
    fn version_indices_are_dense_and_never_reused_under_racing_compare_and_swap(
        committers in 1usize..12,
        schedule in proptest::collection::vec(0usize..100, 0..200),
    ) {
        // A cell with a revision, as in the MetaStore; a committer reads (record, revision),
        // assigns, and writes only if the revision is unchanged, else re-reads and retries.
        let mut cell = (ArtifactRecord::new("t", 0), 0u64);
        let mut snapshots: Vec<Option<(ArtifactRecord, u64)>> = vec![None; committers];
        let mut assigned: Vec<Option<u64>> = vec![None; committers];
        let mut picks = schedule.into_iter().chain(std::iter::repeat(0));
        while assigned.iter().any(Option::is_none) {
            let waiting: Vec<usize> = (0..committers).filter(|&c| assigned[c].is_none()).collect();
            let c = waiting[picks.next().unwrap() % waiting.len()];
            match snapshots[c].take() {
                None => snapshots[c] = Some(cell.clone()),
                Some((mut record, revision)) => {
                    if revision == cell.1 {
                        let index = record.assign_next();
                        cell = (record, revision + 1);
                        assigned[c] = Some(index);
                    }
                }
            }
        }
        let mut indices: Vec<u64> = assigned.into_iter().map(Option::unwrap).collect();
        indices.sort_unstable();
        prop_assert_eq!(indices, (0..committers as u64).collect::<Vec<_>>());
        prop_assert_eq!(cell.0.next_index, committers as u64);
    }
}
