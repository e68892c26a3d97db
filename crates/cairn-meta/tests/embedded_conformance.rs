//! The embedded store against the MetaStore conformance suite, plus durability.

use std::sync::Arc;

use cairn_meta::{EmbeddedStore, MetaStore, MetaStoreExt, meta_conformance_tests};

async fn fresh_store() -> (Arc<dyn MetaStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap();
    (Arc::new(store), dir)
}

meta_conformance_tests!(fresh_store().await);

#[tokio::test]
async fn committed_writes_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    {
        let store = EmbeddedStore::open(&path).unwrap();
        store.put("durable", b"yes".to_vec()).await.unwrap();
    }
    let reopened = EmbeddedStore::open(&path).unwrap();
    assert_eq!(reopened.get("durable").await.unwrap().unwrap().value, b"yes");
}
