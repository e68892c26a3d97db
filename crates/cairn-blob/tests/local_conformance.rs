//! The local-file store against the BlobStore conformance suite, plus crash leftovers.

use std::sync::Arc;

use bytes::Bytes;
use cairn_blob::{BlobStore, BlobStoreExt, LocalFileStore, blob_conformance_tests};

async fn fresh_store() -> (Arc<dyn BlobStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::open(dir.path()).unwrap();
    (Arc::new(store), dir)
}

blob_conformance_tests!(fresh_store().await);

#[tokio::test]
async fn temp_files_left_by_a_crash_are_removed_on_open_and_never_visible() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::open(dir.path()).unwrap();
    store.put_bytes("kept/a", Bytes::from_static(b"a")).await.unwrap();
    // A crashed writer leaves a temp file behind (simulated by leaking the writer's file).
    std::fs::write(dir.path().join("tmp").join("crashed-upload"), b"partial").unwrap();
    let reopened = LocalFileStore::open(dir.path()).unwrap();
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(reopened.list("", None, 10).await.unwrap(), ["kept/a"]);
}
