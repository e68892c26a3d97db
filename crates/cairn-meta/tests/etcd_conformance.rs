//! The etcd store against the MetaStore conformance suite, on a real etcd, plus the
//! behaviour across an etcd restart.

use std::sync::Arc;
use std::time::Duration;

use cairn_meta::{EtcdStore, MetaStore, MetaStoreExt, Txn, meta_conformance_tests};
use cairn_testkit::EtcdServer;

/// Each check gets its own etcd, stopped by pid when the check ends.
async fn fresh_store() -> (Arc<dyn MetaStore>, EtcdServer) {
    let server = EtcdServer::start();
    let store =
        EtcdStore::connect(&[server.endpoint()], "/conformance/", Duration::from_secs(5)).await.expect("connect");
    (Arc::new(store), server)
}

meta_conformance_tests!(fresh_store().await);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_keep_alive_survive_an_etcd_restart() {
    let mut server = EtcdServer::start();
    let store = EtcdStore::connect(&[server.endpoint()], "/restart/", Duration::from_secs(5)).await.unwrap();
    store.put("durable", b"v".to_vec()).await.unwrap();
    let lease = store.grant_lease(Duration::from_secs(10)).await.unwrap();
    store.txn(Txn::new().put_with_lease("member", "m", lease)).await.unwrap();
    server.restart();
    // The first requests after the restart may fail while the connection re-establishes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match store.keep_alive(lease).await {
            Ok(()) => break,
            Err(err) => {
                assert!(tokio::time::Instant::now() < deadline, "keep-alive never recovered: {err}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    assert_eq!(store.get("durable").await.unwrap().unwrap().value, b"v");
    assert!(store.get("member").await.unwrap().is_some(), "the kept-alive lease still holds its key");
}
