//! The etcd store against the MetaStore conformance suite, on a real etcd, plus the
//! behaviour across an etcd restart.

use std::sync::Arc;
use std::time::Duration;

use cairn_meta::{EtcdStore, MetaError, MetaStore, MetaStoreExt, Txn, meta_conformance_tests};
use cairn_testkit::EtcdServer;

/// Each check gets its own etcd, stopped by pid when the check ends.
async fn fresh_store() -> (Arc<dyn MetaStore>, EtcdServer) {
    let server = EtcdServer::start();
    let store = EtcdStore::connect(&[server.endpoint()], "/conformance/", Duration::from_secs(5), &Default::default())
        .await
        .expect("connect");
    (Arc::new(store), server)
}

meta_conformance_tests!(fresh_store().await);

/// A snapshot whose revision etcd has compacted away refuses to read with `Compacted`
/// (the collector then marks again at a new revision; it never sweeps on a partial mark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_snapshot_is_refused_not_read_partially() {
    let server = EtcdServer::start();
    let store = EtcdStore::connect(&[server.endpoint()], "/compaction/", Duration::from_secs(5), &Default::default())
        .await
        .unwrap();
    store.put("k", b"1".to_vec()).await.unwrap();
    let snapshot = store.snapshot().await.unwrap();
    store.put("k", b"2".to_vec()).await.unwrap();
    let now = store.get("k").await.unwrap().unwrap().mod_revision;
    let mut client = etcd_client::Client::connect([server.endpoint()], None).await.unwrap();
    client.compact(now, None).await.unwrap();
    match snapshot.range("k", None, 10).await {
        Err(MetaError::Compacted(revision)) => assert_eq!(revision, snapshot.revision()),
        other => panic!("expected Compacted, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_keep_alive_survive_an_etcd_restart() {
    let mut server = EtcdServer::start();
    let store = EtcdStore::connect(&[server.endpoint()], "/restart/", Duration::from_secs(5), &Default::default())
        .await
        .unwrap();
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

/// etcd down for longer than the lease TTL: the holder steps down; etcd back with the lease
/// restored (etcd extends leases when it restarts): the holder serves again under it,
/// instead of renewing a lease it no longer claims (a worker stuck answering "lost its
/// lease" for ever after an etcd restart: chaos seed 115).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_whose_lease_outlived_an_etcd_outage_serves_again() {
    let mut server = EtcdServer::start();
    let store: Arc<dyn MetaStore> = Arc::new(
        EtcdStore::connect(&[server.endpoint()], "/outage/", Duration::from_secs(2), &Default::default())
            .await
            .unwrap(),
    );
    let ttl = Duration::from_secs(3);
    let registration =
        cairn_meta::Registration::start(store.clone(), "members/workers/w0", b"w0".to_vec(), ttl).await.unwrap();
    let first = registration.lease().expect("registered");

    server.stop();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while registration.lease().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "never stepped down while etcd was gone");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.restart();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let lease = loop {
        if let Some(lease) = registration.lease() {
            break lease;
        }
        assert!(tokio::time::Instant::now() < deadline, "never served again after etcd came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let held = store.get("members/workers/w0").await.unwrap().expect("the key is registered");
    assert_eq!(held.lease, Some(lease), "the announced lease is the one holding the key");
    eprintln!("lease before the outage {first}, after {lease}");
}
