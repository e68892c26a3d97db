//! Reaching etcd securely: over TLS with a private CA and a client certificate (etcd's
//! `--client-cert-auth`), and with a user and password when etcd has authentication on.
//! Each way is checked to work and to refuse a client without the credential.

use std::sync::Arc;
use std::time::Duration;

use cairn_meta::conformance;
use cairn_meta::{EtcdSecurity, EtcdStore, MetaStore, MetaStoreExt};
use cairn_testkit::{EtcdServer, EtcdTls, TestPki};

const TIMEOUT: Duration = Duration::from_secs(3);

async fn connect(server: &EtcdServer, security: &EtcdSecurity) -> Result<EtcdStore, cairn_meta::MetaError> {
    EtcdStore::connect(&[server.endpoint()], "/secure/", TIMEOUT, security).await
}

/// True when a first write and read through `store` work.
async fn usable(store: Result<EtcdStore, cairn_meta::MetaError>) -> bool {
    let Ok(store) = store else { return false };
    store.put("probe", b"v".to_vec()).await.is_ok() && store.get("probe").await.is_ok_and(|kv| kv.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_over_tls_needs_its_ca_and_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path(), "etcd").unwrap();
    let server = EtcdServer::start_tls(EtcdTls {
        ca: pki.ca.clone(),
        server_cert: pki.server_cert.clone(),
        server_key: pki.server_key.clone(),
    });
    assert!(server.endpoint().starts_with("https://"));
    let full = EtcdSecurity {
        ca_cert: Some(pki.ca.clone()),
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(pki.client_key.clone()),
        ..Default::default()
    };
    let store: Arc<dyn MetaStore> = Arc::new(connect(&server, &full).await.expect("connect over TLS"));
    conformance::put_then_get_returns_value_and_revision(store.clone()).await;
    conformance::compare_and_swap_rejects_stale_revisions(store.clone()).await;
    conformance::leased_key_disappears_on_revoke(store).await;

    let no_client_cert = EtcdSecurity { ca_cert: Some(pki.ca.clone()), ..Default::default() };
    assert!(!usable(connect(&server, &no_client_cert).await).await, "etcd requires a client certificate");
    let other = TestPki::generate(&dir.path().join("other"), "other").unwrap();
    let unknown_ca = EtcdSecurity { ca_cert: Some(other.ca.clone()), ..full.clone() };
    assert!(!usable(connect(&server, &unknown_ca).await).await, "etcd's certificate is checked against the CA");
    let plaintext = EtcdStore::connect(
        &[server.endpoint().replace("https://", "http://")],
        "/secure/",
        TIMEOUT,
        &EtcdSecurity::default(),
    )
    .await;
    assert!(!usable(plaintext).await, "no plaintext to a TLS etcd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_with_authentication_needs_the_user_and_password() {
    let server = EtcdServer::start();
    // Turn etcd's authentication on, as an operator would with etcdctl.
    let mut admin = etcd_client::Client::connect([server.endpoint()], None).await.unwrap();
    admin.user_add("root", "root-password", None).await.unwrap();
    admin.user_grant_role("root", "root").await.unwrap();
    admin.user_add("cairn", "cairn-password", None).await.unwrap();
    admin.role_add("cairn").await.unwrap();
    let permission = etcd_client::Permission::read_write("/secure/").with_prefix();
    admin.role_grant_permission("cairn", permission).await.unwrap();
    admin.user_grant_role("cairn", "cairn").await.unwrap();
    admin.auth_enable().await.unwrap();

    let user = |password: &str| EtcdSecurity {
        user: Some("cairn".into()),
        password: Some(password.into()),
        ..Default::default()
    };
    let store: Arc<dyn MetaStore> = Arc::new(connect(&server, &user("cairn-password")).await.expect("connect"));
    conformance::put_then_get_returns_value_and_revision(store.clone()).await;
    conformance::create_if_absent_succeeds_once(store).await;
    assert!(!usable(connect(&server, &user("wrong")).await).await, "a wrong password is refused");
    assert!(!usable(connect(&server, &EtcdSecurity::default()).await).await, "no credentials are refused");
}
