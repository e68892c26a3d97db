//! The races a review found in the collector, each forced deterministically on a real etcd:
//! a gate stops the collector (or the request) at the exact step where the race happened,
//! the racing operation runs, and the test checks that every committed version still reads
//! back whole. Each test names the finding (issue 21) it reproduces; the model in
//! crates/cairn-gc-model has the same races as seeded bugs.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_blob::{BlobStore, BlobStoreExt, LocalFileStore, blob_key, put_verified, single_chunk};
use cairn_coordinator::{CoordError, Coordinator, GcOptions, GcReport, LogHeader};
use cairn_core::{Digest, Entry, Selector};
use cairn_meta::{MetaError, MetaStore};
use cairn_testkit::EtcdServer;
use futures::FutureExt;
use support::gate::Gate;
use support::hooked_meta::{HookedMeta, MetaCall};
use support::{HookedStore, Op, finish, stored_entry, upsert};

const NS: &str = "/races/";

fn no_grace() -> GcOptions {
    GcOptions { dry_run: false, grace: Duration::ZERO, purge_trash: false }
}

/// A local store whose operations of kind `op` on keys starting with `prefix` pass `gate`.
fn gated_store(inner: Arc<dyn BlobStore>, op: Op, prefix: &'static str, gate: Arc<Gate>) -> Arc<dyn BlobStore> {
    let hook: support::Hook = Arc::new(move |seen, key| {
        let (gate, hit) = (gate.clone(), seen == op && key.starts_with(prefix));
        async move {
            if hit {
                gate.pass().await;
            }
        }
        .boxed()
    });
    Arc::new(HookedStore { inner, hook })
}

/// A MetaStore whose calls matching `pick` pass `gate`.
fn gated_meta(inner: Arc<dyn MetaStore>, pick: fn(&MetaCall) -> bool, gate: Arc<Gate>) -> Arc<dyn MetaStore> {
    Arc::new(HookedMeta {
        inner,
        hook: Arc::new(move |call| {
            let (gate, hit) = (gate.clone(), pick(&call));
            async move {
                if hit {
                    gate.pass().await;
                }
                Ok(())
            }
            .boxed()
        }),
    })
}

fn local_store() -> (tempfile::TempDir, Arc<dyn BlobStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalFileStore::open(dir.path()).unwrap());
    (dir, store)
}

async fn replica(
    etcd: &EtcdServer,
    meta: Option<Arc<dyn MetaStore>>,
    blobs: Arc<dyn BlobStore>,
    id: &str,
) -> Arc<Coordinator> {
    let meta = match meta {
        Some(meta) => meta,
        None => support::meta(etcd, NS).await,
    };
    support::replica_on(meta, blobs, id, |_| {}).await.unwrap()
}

/// Stores `content` as a blob nothing refers to.
async fn garbage(blobs: &dyn BlobStore, content: &[u8]) -> Entry {
    stored_entry(blobs, "g.bin", content).await
}

/// Every live version of `p/a` reads back: its manifest, and each blob whole, hashing to
/// its digest. Returns how many versions it read.
async fn every_version_reads_back(coordinator: &Coordinator, blobs: &dyn BlobStore) -> usize {
    let mut read = 0;
    for index in 0..32 {
        let Ok(version) = coordinator.resolve("p", "a", &Selector::Index(index)).await else { continue };
        let entries = coordinator.read_manifest(version.record.digest).await.expect("the manifest reads back");
        for entry in entries {
            let bytes = blobs
                .get_bytes(&blob_key(&entry.sha256))
                .await
                .unwrap_or_else(|e| panic!("v{index} {}: {e}", entry.path));
            assert_eq!(Digest::of(&bytes), entry.sha256, "v{index} {} hashes to its digest", entry.path);
        }
        read += 1;
    }
    read
}

fn log_header() -> LogHeader {
    LogHeader { project: "p".into(), artifact: "a".into(), artifact_type: "t".into(), ..LogHeader::default() }
}

/// Finding 1: a draft that finishes while the collection marks — after the committed
/// versions were read and before the drafts — was in neither, and its blobs were swept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_finishing_while_the_collector_marks_keeps_its_blobs() {
    let etcd = EtcdServer::start();
    let (_dir, blobs) = local_store();
    let gate = Gate::new();
    let pick: fn(&MetaCall) -> bool = |call| matches!(call, MetaCall::Range { prefix, .. } if prefix == "drafts/");
    let meta = gated_meta(support::meta(&etcd, NS).await, pick, gate.clone());
    let coordinator = replica(&etcd, Some(meta), blobs.clone(), "a").await;
    let staged = garbage(&*blobs, b"staged by a long-lived draft").await;
    coordinator.upsert(upsert("w", vec![staged.clone()])).await.unwrap();
    // The draft is long-lived: collections run while it is open, so the generation its
    // upsert was journaled in is long gone when it finishes.
    for _ in 0..2 {
        coordinator.collect_garbage(no_grace()).await.unwrap();
    }

    gate.arm();
    let collection = tokio::spawn({
        let coordinator = coordinator.clone();
        async move { coordinator.collect_garbage(no_grace()).await }
    });
    gate.reached().await; // versions marked, drafts not yet
    coordinator.finish(finish()).await.unwrap();
    gate.release();
    collection.await.unwrap().expect("the collection completes");

    assert_eq!(every_version_reads_back(&coordinator, &*blobs).await, 1);
    coordinator.collect_garbage(no_grace()).await.unwrap();
    assert_eq!(every_version_reads_back(&coordinator, &*blobs).await, 1, "and after one more collection");
}

/// Finding 2: a collector paused past its lease woke up and deleted with stale state —
/// a blob that, meanwhile, another replica's client had committed a version of. And its
/// release of `gc/leader` must not release the other collector's claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_paused_past_its_lease_deletes_nothing_and_releases_no_one_elses_claim() {
    let etcd = EtcdServer::start();
    let (_dir, shared) = local_store();
    let (gate_a, gate_b) = (Gate::new(), Gate::new());
    let a = replica(&etcd, None, gated_store(shared.clone(), Op::CopyIntoTrash, "blobs/", gate_a.clone()), "a").await;
    let b = replica(&etcd, None, gated_store(shared.clone(), Op::CopyIntoTrash, "blobs/", gate_b.clone()), "b").await;
    let relogged = garbage(&*shared, b"old, unreferenced, then logged again").await;

    gate_a.arm();
    let stale = tokio::spawn({
        let a = a.clone();
        async move { a.collect_garbage(no_grace()).await }
    });
    gate_a.reached().await; // a condemned the blob and read the journals; now it stalls
    a.abandon_lease();
    // Meanwhile a client logs the old blob again through b, once a's lease has lapsed
    // (its condemned set went with it).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match b.log(log_header(), vec![relogged.clone()]).await {
            Ok(_) => break,
            Err(CoordError::BeingCollected) if tokio::time::Instant::now() < deadline => {}
            Err(err) => panic!("the log failed: {err}"),
        }
    }
    // b collects while a is still stalled, and stalls in turn on some other garbage.
    garbage(&*shared, b"garbage b stalls on").await;
    gate_b.arm();
    let current = tokio::spawn({
        let b = b.clone();
        async move {
            loop {
                match b.collect_garbage(no_grace()).await {
                    Err(CoordError::GcRunning { .. }) => tokio::task::yield_now().await, // a's claim lapses
                    other => return other,
                }
            }
        }
    });
    gate_b.reached().await;
    gate_a.release();
    let stale = stale.await.unwrap();
    assert!(matches!(stale, Err(CoordError::CollectorFenced | CoordError::SteppedDown)), "{stale:?}");
    let meta = support::meta(&etcd, NS).await;
    let leader = meta.get("gc/leader").await.unwrap().expect("b still holds the turn");
    assert_eq!(leader.value, b"b");
    gate_b.release();
    current.await.unwrap().expect("b's collection completes");
    assert_eq!(every_version_reads_back(&b, &*shared).await, 1);
    b.collect_garbage(no_grace()).await.expect("later collections run");
}

/// Finding 3: between the collector's last read of the journals and its delete, a request
/// journaled and looked up a doomed blob, and relied on a blob that then disappeared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_between_the_journal_read_and_the_delete_waits_and_never_relies_on_a_deleted_blob() {
    let etcd = EtcdServer::start();
    let (_dir, shared) = local_store();
    let gate = Gate::new();
    let collector =
        replica(&etcd, None, gated_store(shared.clone(), Op::CopyIntoTrash, "blobs/", gate.clone()), "c").await;
    let doomed = garbage(&*shared, b"doomed until someone relies on it").await;

    gate.arm();
    let collection = tokio::spawn({
        let collector = collector.clone();
        async move { collector.collect_garbage(no_grace()).await }
    });
    gate.reached().await; // condemned, journals read, not yet deleted
    let waits_before = cairn_coordinator::metrics::GC_CONDEMNED_WAITS.get();
    let request = tokio::spawn({
        let collector = collector.clone();
        let entry = doomed.clone();
        async move { collector.upsert(upsert("w", vec![entry])).await }
    });
    while cairn_coordinator::metrics::GC_CONDEMNED_WAITS.get() == waits_before {
        tokio::task::yield_now().await; // until the upsert waits on the condemned blob
    }
    gate.release();
    collection.await.unwrap().unwrap();
    match request.await.unwrap() {
        Err(CoordError::BlobNotStored { sha256, .. }) => assert_eq!(sha256, doomed.sha256.to_string()),
        other => panic!("the upsert relied on a deleted blob: {other:?}"),
    }
    // The client uploads it again (as the Rust client does on BLOB_NOT_STORED), and it holds.
    let again = stored_entry(&*shared, "g.bin", b"doomed until someone relies on it").await;
    collector.upsert(upsert("w", vec![again])).await.unwrap();
    collector.finish(finish()).await.unwrap();
    assert_eq!(every_version_reads_back(&collector, &*shared).await, 1);
}

/// Finding 4: a Log took the latest version's blobs as stored, and committed after that
/// version had been deleted and collected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_reusing_a_latest_version_deleted_meanwhile_checks_its_blobs_again() {
    let etcd = EtcdServer::start();
    let (_dir, shared) = local_store();
    let gate = Gate::new();
    let logger = replica(&etcd, None, gated_store(shared.clone(), Op::BeginPut, "manifests/", gate.clone()), "l").await;
    let other = replica(&etcd, None, shared.clone(), "o").await;
    let old = stored_entry(&*shared, "old.bin", b"in v0 only").await;
    other.log(log_header(), vec![old.clone()]).await.unwrap();
    let added = stored_entry(&*shared, "new.bin", b"added by v1").await;
    // Another artifact refers to the added blob, so that only v0's goes.
    other.log(LogHeader { artifact: "keep".into(), ..log_header() }, vec![added.clone()]).await.unwrap();

    gate.arm();
    let log = tokio::spawn({
        let logger = logger.clone();
        async move { logger.log(log_header(), vec![old, added]).await }
    });
    gate.reached().await; // checks done (old.bin taken as v0's), manifest not yet stored
    other.delete_version("p", "a:v0", false).await.unwrap();
    let report = other.collect_garbage(no_grace()).await.unwrap();
    assert_eq!(report.deleted_blobs, 1, "v0's blob went: {report:?}");
    gate.release();
    match log.await.unwrap() {
        Err(CoordError::BlobNotStored { path, .. }) => assert_eq!(path, "old.bin"),
        other => panic!("the log committed on a deleted version's blob: {other:?}"),
    }
    assert_eq!(every_version_reads_back(&other, &*shared).await, 0);
}

/// Finding 5: opening an edit draft took its base as it was read, with no compare: the
/// base could be deleted and its blobs swept before the draft existed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_a_version_deleted_before_its_draft_exists_is_refused() {
    let etcd = EtcdServer::start();
    let (_dir, shared) = local_store();
    let gate = Gate::new();
    let editor = replica(&etcd, None, gated_store(shared.clone(), Op::BeginPut, "staging/", gate.clone()), "e").await;
    let other = replica(&etcd, None, shared.clone(), "o").await;
    other.log(log_header(), vec![stored_entry(&*shared, "base.bin", b"the base's own bytes").await]).await.unwrap();
    let added = stored_entry(&*shared, "added.bin", b"added by the edit").await;
    // Another artifact refers to the added blob, so that only the base's goes.
    other.log(LogHeader { artifact: "keep".into(), ..log_header() }, vec![added.clone()]).await.unwrap();
    let mut edit = upsert("w", vec![added]);
    edit.base = Some(Selector::latest());

    gate.arm();
    let opening = tokio::spawn({
        let editor = editor.clone();
        async move { editor.upsert(edit).await }
    });
    gate.reached().await; // base resolved, draft not yet saved
    other.delete_version("p", "a:v0", false).await.unwrap();
    other.collect_garbage(no_grace()).await.unwrap();
    gate.release();
    let opened = opening.await.unwrap();
    assert!(
        matches!(opened, Err(CoordError::VersionNotFound { .. } | CoordError::ArtifactNotFound { .. })),
        "{opened:?}"
    );
    let draft = editor.get_draft("p", "a", "job").await;
    assert!(matches!(draft, Err(CoordError::DraftNotFound { .. })), "no draft on a deleted base: {draft:?}");
}

/// A BlobStore that dates listed objects its own way (`redate` changes each listed one):
/// how S3 dates a multipart object, or a store whose clock differs from the collector's.
struct Redated {
    inner: Arc<dyn BlobStore>,
    redate: fn(&mut cairn_blob::ObjectInfo),
}

#[async_trait::async_trait]
impl BlobStore for Redated {
    async fn begin_put(&self, key: &str) -> Result<Box<dyn cairn_blob::BlobWriter>, cairn_blob::BlobError> {
        self.inner.begin_put(key).await
    }
    async fn resume_put(
        &self,
        key: &str,
        offset: u64,
        token: Option<&str>,
        part_size: u64,
    ) -> Result<Box<dyn cairn_blob::BlobWriter>, cairn_blob::BlobError> {
        self.inner.resume_put(key, offset, token, part_size).await
    }
    async fn discard_upload(&self, key: &str, token: Option<&str>) -> Result<(), cairn_blob::BlobError> {
        self.inner.discard_upload(key, token).await
    }
    fn part_size(&self) -> u64 {
        self.inner.part_size()
    }
    async fn get(
        &self,
        key: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<cairn_blob::ByteStream, cairn_blob::BlobError> {
        self.inner.get(key, offset, length).await
    }
    async fn head(&self, key: &str) -> Result<Option<u64>, cairn_blob::BlobError> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), cairn_blob::BlobError> {
        self.inner.delete(key).await
    }
    async fn copy_into_trash(&self, key: &str) -> Result<Option<u64>, cairn_blob::BlobError> {
        self.inner.copy_into_trash(key).await
    }
    async fn restore_from_trash(&self, key: &str) -> Result<bool, cairn_blob::BlobError> {
        self.inner.restore_from_trash(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, cairn_blob::BlobError> {
        self.inner.list(prefix, after, limit).await
    }
    async fn list_info(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<cairn_blob::ObjectInfo>, cairn_blob::BlobError> {
        let mut listed = self.inner.list_info(prefix, after, limit).await?;
        listed.iter_mut().for_each(self.redate);
        Ok(listed)
    }
}

/// Finding 6: on S3 a blob uploaded in parts is dated when its upload began, so one that
/// took longer than the grace period looked old the moment it completed; and an upload of
/// a blob stored already did not make it young again. The worker's upload marker does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_uploaded_in_parts_or_found_stored_stay_young_for_the_grace_period() {
    let etcd = EtcdServer::start();
    let (_dir, local) = local_store();
    // Every blob dated as S3 dates a multipart object: when its upload began (the epoch).
    let redate: fn(&mut cairn_blob::ObjectInfo) = |o| {
        if o.key.starts_with("blobs/") {
            o.modified_ms = 0;
        }
    };
    let store: Arc<dyn BlobStore> = Arc::new(Redated { inner: local.clone(), redate });
    let coordinator = replica(&etcd, None, store.clone(), "c").await;
    let hour = GcOptions { grace: Duration::from_secs(3600), ..no_grace() };
    // In parts: larger than one part of the local store.
    let large: Vec<u8> = (0..store.part_size() as usize + 4096).map(|i| (i % 253) as u8).collect();
    let large_digest = Digest::of(&large);
    put_verified(&*store, &large_digest, large.len() as u64, single_chunk(Bytes::from(large))).await.unwrap();
    // Stored long ago, then uploaded again (found stored).
    let again = b"stored long ago, uploaded again".to_vec();
    let again_digest = Digest::of(&again);
    local.put_bytes(&blob_key(&again_digest), Bytes::from(again.clone())).await.unwrap();
    put_verified(&*store, &again_digest, again.len() as u64, single_chunk(Bytes::from(again))).await.unwrap();
    // Control: a blob written once, whole, long ago and never uploaded since: it goes.
    let old = garbage(&*local, b"old garbage nobody uploaded again").await;

    let report = coordinator.collect_garbage(hour).await.unwrap();
    assert_eq!(report.deleted_blobs, 1, "{report:?}");
    assert_eq!(local.head(&blob_key(&old.sha256)).await.unwrap(), None);
    for digest in [large_digest, again_digest] {
        assert!(local.head(&blob_key(&digest)).await.unwrap().is_some(), "{digest} was uploaded within the grace");
    }
}

/// Finding 7: retention counted the versions, then deleted without comparing on the
/// artifact record: a deletion racing it left fewer than `keep_last` versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_racing_a_deletion_never_leaves_fewer_than_keep_last_versions() {
    let etcd = EtcdServer::start();
    let (_dir, shared) = local_store();
    let gate = Gate::new();
    let pick: fn(&MetaCall) -> bool =
        |call| matches!(call, MetaCall::Txn { deletes, .. } if deletes.iter().any(|k| k.starts_with("versions/")));
    let meta = gated_meta(support::meta(&etcd, NS).await, pick, gate.clone());
    let collector = replica(&etcd, Some(meta), shared.clone(), "c").await;
    let user = replica(&etcd, None, shared.clone(), "u").await;
    for content in [&b"v0"[..], b"v1"] {
        user.log(log_header(), vec![stored_entry(&*shared, "f.bin", content).await]).await.unwrap();
    }
    user.set_retention("p", "a", 1).await.unwrap();

    gate.arm();
    let collection = tokio::spawn({
        let collector = collector.clone();
        async move { collector.collect_garbage(no_grace()).await }
    });
    gate.reached().await; // retention counted 2 versions and is about to delete v0
    user.delete_version("p", "a:v1", false).await.unwrap();
    gate.release();
    let report: GcReport = collection.await.unwrap().unwrap();
    assert_eq!(report.retired_versions, 0, "{report:?}");
    assert_eq!(every_version_reads_back(&user, &*shared).await, 1, "v0, the only version left, stays");
}

/// Finding 8: a live version whose manifest is missing stopped every later collection.
/// Now it is counted (`referenced_missing`, the metric), the collection goes on, and fsck
/// names it; fsck --repair restores a manifest the trash still has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_manifest_is_counted_not_fatal_and_fsck_repairs_it_from_the_trash() {
    let etcd = EtcdServer::start();
    let (_dir, shared) = local_store();
    let coordinator = replica(&etcd, None, shared.clone(), "c").await;
    let (version, _) =
        coordinator.log(log_header(), vec![stored_entry(&*shared, "f.bin", b"kept").await]).await.unwrap();
    let manifest = cairn_blob::manifest_key(&version.digest);
    // Lost by mistake, but the trash has a copy.
    shared.copy_into_trash(&manifest).await.unwrap();
    shared.delete(&manifest).await.unwrap();

    let report = coordinator.collect_garbage(no_grace()).await.expect("the collection goes on");
    assert_eq!(report.referenced_missing, 0, "the mark read the manifest from the trash: {report:?}");
    assert_eq!(report.deleted_blobs, 0, "and kept its blob: {report:?}");
    let checked = coordinator.fsck(true, false).await.unwrap();
    assert_eq!((checked.versions_checked, checked.missing.len()), (1, 1), "{checked:?}");
    assert_eq!(checked.missing[0].reference, "p/a:v0");
    let repaired = coordinator.fsck(true, true).await.unwrap();
    assert_eq!((repaired.repaired, repaired.missing.len(), repaired.corrupt.len()), (1, 0, 0), "{repaired:?}");
    assert_eq!(every_version_reads_back(&coordinator, &*shared).await, 1);

    // Gone from the trash too: counted, never fatal.
    shared.delete(&manifest).await.unwrap();
    coordinator.collect_garbage(GcOptions { purge_trash: true, ..no_grace() }).await.unwrap();
    let report = coordinator.collect_garbage(no_grace()).await.unwrap();
    assert_eq!(report.referenced_missing, 1, "{report:?}");
    assert_eq!(coordinator.fsck(false, true).await.unwrap().missing.len(), 1);
}

/// Finding 8: staged segments of a draft whose first save never happened (no record names
/// its uid) were never collected; dry runs opened a generation (fencing off requests for
/// nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_staging_is_collected_and_a_dry_run_opens_no_generation() {
    let etcd = EtcdServer::start();
    let (_dir, shared) = local_store();
    let coordinator = replica(&etcd, None, shared.clone(), "c").await;
    let orphan = cairn_blob::staging_key("0b7f3c0e-orphan", 0, Some(7));
    shared.put_bytes(&orphan, Bytes::from_static(b"{}")).await.unwrap();
    let meta = support::meta(&etcd, NS).await;
    let generation = || async { meta.get("gc/generation").await.unwrap().map(|kv| kv.mod_revision) };
    let before = generation().await;
    let dry = coordinator.collect_garbage(GcOptions { dry_run: true, ..no_grace() }).await.unwrap();
    assert_eq!(dry.deleted_staging, 1, "{dry:?}");
    assert_eq!(generation().await, before, "a dry run opens no generation");
    assert!(shared.head(&orphan).await.unwrap().is_some(), "and deletes nothing");
    let report = coordinator.collect_garbage(no_grace()).await.unwrap();
    assert_eq!(report.deleted_staging, 1, "{report:?}");
    assert_eq!(shared.head(&orphan).await.unwrap(), None);
}

/// Finding 8: the cut-off compared the collector's clock with the store's object times;
/// a store whose clock is behind made fresh uploads look old. Ages are the store's now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ages_are_judged_by_the_stores_clock_not_the_collectors() {
    let etcd = EtcdServer::start();
    let (_dir, local) = local_store();
    // A store whose clock runs two hours behind the collector's.
    let redate: fn(&mut cairn_blob::ObjectInfo) = |o| o.modified_ms = o.modified_ms.saturating_sub(2 * 3600 * 1000);
    let store: Arc<dyn BlobStore> = Arc::new(Redated { inner: local.clone(), redate });
    let coordinator = replica(&etcd, None, store.clone(), "c").await;
    let fresh = garbage(&*store, b"uploaded a moment ago").await;
    let report =
        coordinator.collect_garbage(GcOptions { grace: Duration::from_secs(3600), ..no_grace() }).await.unwrap();
    assert_eq!(report.deleted_blobs, 0, "{report:?}");
    assert!(local.head(&blob_key(&fresh.sha256)).await.unwrap().is_some());
}

/// Upgrades: a collector refuses to run beside a replica that registered no collection
/// protocol (one of an older version, which neither fences its commits on the generation
/// nor waits for condemned blobs) — all replicas are restarted together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_refuses_to_run_beside_a_replica_of_an_older_protocol() {
    let etcd = EtcdServer::start();
    let (_dir, shared) = local_store();
    let coordinator = replica(&etcd, None, shared.clone(), "new").await;
    let meta = support::meta(&etcd, NS).await;
    let lease = meta.grant_lease(Duration::from_secs(30)).await.unwrap();
    let old_member = br#"{"node_id":"old","address":"http://old.invalid:1"}"#.to_vec();
    meta.txn(cairn_meta::Txn::new().put_with_lease("members/coordinators/old", old_member, lease)).await.unwrap();
    match coordinator.collect_garbage(no_grace()).await {
        Err(CoordError::GcProtocolMismatch { node_id, protocol }) => {
            assert_eq!((node_id.as_str(), protocol), ("old", 0))
        }
        other => panic!("collected beside an old replica: {other:?}"),
    }
    meta.revoke_lease(lease).await.unwrap();
    coordinator.collect_garbage(no_grace()).await.expect("alone again, it collects");
}

/// Found by the chaos harness: a release of `gc/leader` that failed (etcd restarting) left
/// the key on the replica's lease, which its keep-alives then renewed for good — every
/// later collection, this replica's own included, answered GC_RUNNING. The release is now
/// retried in the background until it lands (it compares on the claim's revision, so a
/// late retry never releases another collector's claim).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_of_the_collectors_turn_that_fails_is_retried_until_it_lands() {
    let etcd = EtcdServer::start();
    let (_dir, blobs) = local_store();
    let failures = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let meta: Arc<dyn MetaStore> = Arc::new(HookedMeta {
        inner: support::meta(&etcd, NS).await,
        hook: Arc::new({
            let failures = failures.clone();
            move |call| {
                let releasing = matches!(&call, MetaCall::Txn { deletes, .. } if deletes == &["gc/leader".to_owned()]);
                // The first two releases fail as an unreachable etcd would.
                let fail = releasing && failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2;
                async move { if fail { Err(MetaError::Unavailable("etcd restarting".into())) } else { Ok(()) } }.boxed()
            }
        }),
    });
    let coordinator = replica(&etcd, Some(meta), blobs.clone(), "a").await;
    coordinator.collect_garbage(no_grace()).await.expect("the collection itself completes");
    assert!(
        matches!(coordinator.collect_garbage(no_grace()).await, Err(CoordError::GcRunning { .. })),
        "right after the failed release the turn is still held"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match coordinator.collect_garbage(no_grace()).await {
            Ok(_) => break,
            Err(CoordError::GcRunning { .. }) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("the turn was never given back: {err}"),
        }
    }
    assert!(failures.load(std::sync::atomic::Ordering::SeqCst) >= 3, "the release was retried");
}
