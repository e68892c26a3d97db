//! The MetaStore conformance suite: every implementation must pass these same checks.
//!
//! Each check takes a fresh, empty store. Implementations instantiate the whole suite with
//! [`crate::meta_conformance_tests!`], giving an async expression that builds a fresh store and a guard
//! that keeps its backing resources (directory, server) alive for the check.

use std::sync::Arc;
use std::time::Duration;

use crate::{MAX_TXN_OPS, MAX_VALUE_BYTES, MetaError, MetaStore, MetaStoreExt, Txn};

/// Instantiates every conformance check as a `#[tokio::test]` for one implementation.
#[macro_export]
macro_rules! meta_conformance_tests {
    ($make_store:expr) => {
        $crate::meta_conformance_tests!(@each $make_store;
            put_then_get_returns_value_and_revision,
            create_if_absent_succeeds_once,
            compare_and_swap_rejects_stale_revisions,
            failed_compare_applies_no_operation,
            range_is_ordered_prefix_bounded_and_pages,
            count_is_prefix_bounded_and_skips_expired_keys,
            delete_removes_the_key,
            oversize_transactions_and_values_are_refused_untouched,
            leased_key_disappears_on_revoke,
            leased_key_expires_without_keep_alive,
            keep_alive_keeps_a_leased_key,
            put_with_unknown_lease_is_refused,
            concurrent_compare_and_swap_loses_no_update,
            a_registered_key_is_refused_to_a_second_live_holder,
            a_snapshot_shows_the_store_as_it_was,
        );
    };
    (@each $make_store:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                // The guard (a temp dir, a server) lives until the check ends.
                let (store, _guard) = $make_store;
                $crate::conformance::$name(store).await;
            }
        )+
    };
}

/// A put is readable with a positive revision that grows with every write.
pub async fn put_then_get_returns_value_and_revision(store: Arc<dyn MetaStore>) {
    assert_eq!(store.get("a").await.unwrap(), None);
    store.put("a", b"one".to_vec()).await.unwrap();
    let first = store.get("a").await.unwrap().unwrap();
    assert_eq!((first.key.as_str(), first.value.as_slice()), ("a", &b"one"[..]));
    assert!(first.mod_revision > 0);
    store.put("a", b"two".to_vec()).await.unwrap();
    let second = store.get("a").await.unwrap().unwrap();
    assert_eq!(second.value, b"two");
    assert!(second.mod_revision > first.mod_revision);
}

/// Revision 0 means "absent": only the first create wins.
pub async fn create_if_absent_succeeds_once(store: Arc<dyn MetaStore>) {
    assert!(store.txn(Txn::new().when_revision("k", 0).put("k", "first")).await.unwrap());
    assert!(!store.txn(Txn::new().when_revision("k", 0).put("k", "second")).await.unwrap());
    assert_eq!(store.get("k").await.unwrap().unwrap().value, b"first");
}

/// A write conditioned on an old revision fails; on the current one it succeeds.
pub async fn compare_and_swap_rejects_stale_revisions(store: Arc<dyn MetaStore>) {
    store.put("k", b"v1".to_vec()).await.unwrap();
    let stale = store.get("k").await.unwrap().unwrap().mod_revision;
    store.put("k", b"v2".to_vec()).await.unwrap();
    assert!(!store.txn(Txn::new().when_revision("k", stale).put("k", "lost")).await.unwrap());
    let current = store.get("k").await.unwrap().unwrap();
    assert_eq!(current.value, b"v2");
    assert!(store.txn(Txn::new().when_revision("k", current.mod_revision).put("k", "v3")).await.unwrap());
    assert_eq!(store.get("k").await.unwrap().unwrap().value, b"v3");
}

/// All or nothing: one failing compare stops every write of the transaction.
pub async fn failed_compare_applies_no_operation(store: Arc<dyn MetaStore>) {
    store.put("x", b"1".to_vec()).await.unwrap();
    let rev = store.get("x").await.unwrap().unwrap().mod_revision;
    let txn = Txn::new().when_revision("x", rev).when_revision("y", 99).put("x", "2").put("z", "3");
    assert!(!store.txn(txn).await.unwrap());
    assert_eq!(store.get("x").await.unwrap().unwrap().value, b"1");
    assert_eq!(store.get("z").await.unwrap(), None);
    let txn = Txn::new().when_revision("x", rev).when_revision("y", 0).put("x", "2").put("z", "3");
    assert!(store.txn(txn).await.unwrap());
    let (x, z) = (store.get("x").await.unwrap().unwrap(), store.get("z").await.unwrap().unwrap());
    assert_eq!((x.value.as_slice(), z.value.as_slice()), (&b"2"[..], &b"3"[..]));
    assert_eq!(x.mod_revision, z.mod_revision, "one transaction writes at one revision");
}

/// Ranges return keys of one prefix in order, page by `start_after`, honour `limit`.
pub async fn range_is_ordered_prefix_bounded_and_pages(store: Arc<dyn MetaStore>) {
    for key in ["p/c", "p/a", "p/b", "p0", "o/z", "p/d"] {
        store.put(key, key.as_bytes().to_vec()).await.unwrap();
    }
    let keys = |kvs: Vec<crate::KeyValue>| kvs.into_iter().map(|kv| kv.key).collect::<Vec<_>>();
    assert_eq!(keys(store.range("p/", None, 100).await.unwrap()), ["p/a", "p/b", "p/c", "p/d"]);
    assert_eq!(keys(store.range("p/", None, 2).await.unwrap()), ["p/a", "p/b"]);
    assert_eq!(keys(store.range("p/", Some("p/b"), 100).await.unwrap()), ["p/c", "p/d"]);
    assert_eq!(keys(store.range("p/", Some("p/d"), 100).await.unwrap()), Vec::<String>::new());
    assert_eq!(keys(store.range("q/", None, 100).await.unwrap()), Vec::<String>::new());
}

/// `count` counts live keys under a prefix and nothing else.
pub async fn count_is_prefix_bounded_and_skips_expired_keys(store: Arc<dyn MetaStore>) {
    for key in ["p/c", "p/a", "p/b", "p0", "o/z"] {
        store.put(key, key.as_bytes().to_vec()).await.unwrap();
    }
    assert_eq!(store.count("p/").await.unwrap(), 3);
    assert_eq!(store.count("p").await.unwrap(), 4);
    assert_eq!(store.count("q/").await.unwrap(), 0);
    let lease = store.grant_lease(Duration::from_secs(30)).await.unwrap();
    store.txn(Txn::new().put_with_lease("p/leased", b"x".to_vec(), lease)).await.unwrap();
    assert_eq!(store.count("p/").await.unwrap(), 4);
    store.revoke_lease(lease).await.unwrap();
    store.delete("p/a").await.unwrap();
    assert_eq!(store.count("p/").await.unwrap(), 2, "a deleted key and a revoked lease's key are not counted");
}

/// A deleted key reads as absent and its revision as 0.
pub async fn delete_removes_the_key(store: Arc<dyn MetaStore>) {
    store.put("gone", b"x".to_vec()).await.unwrap();
    store.delete("gone").await.unwrap();
    assert_eq!(store.get("gone").await.unwrap(), None);
    assert!(store.txn(Txn::new().when_revision("gone", 0).put("gone", "again")).await.unwrap());
    store.delete("never-existed").await.unwrap();
}

/// Limits are checked before anything is written.
pub async fn oversize_transactions_and_values_are_refused_untouched(store: Arc<dyn MetaStore>) {
    let mut txn = Txn::new();
    for i in 0..=MAX_TXN_OPS {
        txn = txn.put(format!("many/{i}"), "v");
    }
    assert!(matches!(store.txn(txn).await, Err(MetaError::TooManyOps { .. })));
    assert!(store.range("many/", None, 10).await.unwrap().is_empty());
    let twice = Txn::new().put("dup", "1").delete("dup");
    assert!(matches!(store.txn(twice).await, Err(MetaError::DuplicateKey { .. })));
    assert_eq!(store.get("dup").await.unwrap(), None);
    let big = vec![0u8; MAX_VALUE_BYTES + 1];
    assert!(matches!(store.txn(Txn::new().put("big", big)).await, Err(MetaError::ValueTooLarge { .. })));
    assert_eq!(store.get("big").await.unwrap(), None);
}

/// Revoking a lease deletes its keys and leaves other keys alone.
pub async fn leased_key_disappears_on_revoke(store: Arc<dyn MetaStore>) {
    let lease = store.grant_lease(Duration::from_secs(30)).await.unwrap();
    assert!(store.txn(Txn::new().put_with_lease("member", "me", lease).put("plain", "x")).await.unwrap());
    assert_eq!(store.get("member").await.unwrap().unwrap().lease, Some(lease));
    store.revoke_lease(lease).await.unwrap();
    assert_eq!(store.get("member").await.unwrap(), None);
    assert!(store.get("plain").await.unwrap().is_some());
    let renewed = store.keep_alive(lease).await;
    assert!(matches!(renewed, Err(MetaError::LeaseNotFound(_))), "keep-alive of a revoked lease: {renewed:?}");
}

/// A lease that is not kept alive expires and takes its keys with it.
pub async fn leased_key_expires_without_keep_alive(store: Arc<dyn MetaStore>) {
    let lease = store.grant_lease(Duration::from_secs(1)).await.unwrap();
    store.txn(Txn::new().put_with_lease("ephemeral", "x", lease)).await.unwrap();
    assert!(store.get("ephemeral").await.unwrap().is_some());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.get("ephemeral").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "leased key outlived its lease by 9 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(store.range("ephemeral", None, 10).await.unwrap().is_empty());
}

/// Keep-alives renew a lease beyond its TTL.
pub async fn keep_alive_keeps_a_leased_key(store: Arc<dyn MetaStore>) {
    let lease = store.grant_lease(Duration::from_secs(2)).await.unwrap();
    store.txn(Txn::new().put_with_lease("alive", "x", lease)).await.unwrap();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        store.keep_alive(lease).await.unwrap();
    }
    assert!(store.get("alive").await.unwrap().is_some(), "key vanished although its lease was kept alive for 4 s");
    store.revoke_lease(lease).await.unwrap();
}

/// Attaching a key to a lease that does not exist fails and writes nothing.
pub async fn put_with_unknown_lease_is_refused(store: Arc<dyn MetaStore>) {
    let result = store.txn(Txn::new().put("side", "x").put_with_lease("orphan", "x", 987_654_321)).await;
    assert!(result.is_err() || !result.unwrap());
    assert_eq!(store.get("orphan").await.unwrap(), None);
    assert_eq!(store.get("side").await.unwrap(), None);
}

/// Racing read-modify-write loops built on compare-and-swap never lose an increment.
pub async fn concurrent_compare_and_swap_loses_no_update(store: Arc<dyn MetaStore>) {
    const TASKS: u64 = 4;
    const INCREMENTS: u64 = 10;
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                loop {
                    let current = store.get("counter").await.unwrap();
                    let (value, rev) = match &current {
                        Some(kv) => {
                            (String::from_utf8(kv.value.clone()).unwrap().parse::<u64>().unwrap(), kv.mod_revision)
                        }
                        None => (0, 0),
                    };
                    let txn = Txn::new().when_revision("counter", rev).put("counter", (value + 1).to_string());
                    if store.txn(txn).await.unwrap() {
                        break;
                    }
                }
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let value = store.get("counter").await.unwrap().unwrap().value;
    assert_eq!(String::from_utf8(value).unwrap(), (TASKS * INCREMENTS).to_string());
}

/// Two live processes registering one node id are refused, the second one with a clear
/// error; once the first stops, the id can be registered again.
pub async fn a_registered_key_is_refused_to_a_second_live_holder(store: Arc<dyn MetaStore>) {
    let ttl = Duration::from_secs(3);
    let first = crate::Registration::start(store.clone(), "members/x/node-1", b"a".to_vec(), ttl).await.unwrap();
    let second = crate::Registration::start(store.clone(), "members/x/node-1", b"b".to_vec(), ttl).await;
    assert!(matches!(second, Err(MetaError::AlreadyRegistered { .. })), "{second:?}");
    assert_eq!(store.get("members/x/node-1").await.unwrap().unwrap().value, b"a", "the first holder keeps its key");
    first.stop().await;
    let again = crate::Registration::start(store.clone(), "members/x/node-1", b"c".to_vec(), ttl).await.unwrap();
    assert_eq!(store.get("members/x/node-1").await.unwrap().unwrap().value, b"c");
    // A crash (no revoke): the restarted process waits for the dead holder's lease to lapse.
    again.abandon();
    let restarted = crate::Registration::start(store.clone(), "members/x/node-1", b"d".to_vec(), ttl).await.unwrap();
    assert_eq!(store.get("members/x/node-1").await.unwrap().unwrap().value, b"d");
    restarted.stop().await;
}

/// A snapshot shows every key as it was when it was taken, however the store changes
/// while it is read, page by page; its revision is that of the last write before it.
pub async fn a_snapshot_shows_the_store_as_it_was(store: Arc<dyn MetaStore>) {
    for i in 0..5 {
        store.put(&format!("s/{i}"), format!("old {i}").into_bytes()).await.unwrap();
    }
    let last = store.get("s/4").await.unwrap().unwrap().mod_revision;
    let snapshot = store.snapshot().await.unwrap();
    assert_eq!(snapshot.revision(), last);
    store.put("s/0", b"new".to_vec()).await.unwrap();
    store.delete("s/1").await.unwrap();
    store.put("s/9", b"added".to_vec()).await.unwrap();
    let first = snapshot.range("s/", None, 3).await.unwrap();
    let rest = snapshot.range("s/", Some(&first[2].key), 10).await.unwrap();
    let seen: Vec<(String, Vec<u8>)> = first.into_iter().chain(rest).map(|kv| (kv.key, kv.value)).collect();
    let expected: Vec<(String, Vec<u8>)> =
        (0..5).map(|i| (format!("s/{i}"), format!("old {i}").into_bytes())).collect();
    assert_eq!(seen, expected);
    let now: Vec<String> = store.range("s/", None, 10).await.unwrap().into_iter().map(|kv| kv.key).collect();
    assert_eq!(now, ["s/0", "s/2", "s/3", "s/4", "s/9"]);
}
