//! Read grants and upload receipts, both signed with one key every server shares.
//!
//! Read grants: how a worker knows, without a MetaStore read per request, that a caller may
//! read a blob. Blobs are stored once by content, whatever project logged them, so a valid
//! token is not enough: a reader of project A naming a digest of project B must be refused.
//!
//! When a coordinator serves a version's manifest to a reader, it signs a grant for that
//! version: `cairn-grant-v1:<project>:<manifest digest>:<expiry, unix seconds>:<HMAC>`,
//! HMAC-SHA256 under a key every server shares (made once, kept in the MetaStore at
//! [`GRANT_KEY`]). The client sends it with its GetBlob/GetBlobs calls; the worker checks
//! the signature and expiry, that the caller's token may read the grant's project, and
//! that the blob is one of the manifest's entries (the manifest is content-addressed, so
//! its digest names exactly one set of entries).
//!
//! Upload receipts: how a coordinator knows, again without a MetaStore read per blob, that
//! a writer may put a blob into a version. A worker signs one for every blob a caller
//! sent in full and that hashed right (`cairn-receipt-v1:<project>:<digest>:<size>:
//! <expiry>:<HMAC>`, the project being the caller token's); the coordinator accepts an
//! entry whose blob it cannot otherwise vouch for only with a receipt of that project.
//! So naming a digest is never enough to claim a blob: one must have had its bytes.

use cairn_core::Digest;
use cairn_meta::{MetaStore, Txn};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AuthError;

/// gRPC metadata key carrying a read grant.
pub const READ_GRANT_HEADER: &str = cairn_proto::READ_GRANT_HEADER;

/// MetaStore key of the shared signing key.
pub const GRANT_KEY: &str = "auth/grant-key";

/// How long a grant is honoured: long enough for a download of many hours, short enough
/// that a grant copied out of a log does not read for ever (the caller's token is
/// checked on every call too, so a revoked token reads nothing even with a grant).
pub const GRANT_LIFETIME_SECS: u64 = 24 * 3600;

const PREFIX: &str = "cairn-grant-v1";
const RECEIPT_PREFIX: &str = "cairn-receipt-v1";

/// How long an upload receipt is honoured: the upload and the upsert or log naming it
/// happen in one run.
pub const RECEIPT_LIFETIME_SECS: u64 = 24 * 3600;

/// What a valid upload receipt proves: a caller of `project` (or of every project, `*`)
/// sent the whole blob `digest` of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReceipt {
    pub project: String,
    pub digest: Digest,
    pub size: u64,
}

/// What a valid grant allows: reading the entries of one version of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadGrant {
    /// The project of the version.
    pub project: String,
    /// The version's digest, which is its manifest's address.
    pub manifest: Digest,
}

/// The key grants are signed with.
#[derive(Clone)]
pub struct GrantKey([u8; 32]);

impl std::fmt::Debug for GrantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrantKey(…)")
    }
}

impl GrantKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key every server of this MetaStore shares: read, or made and stored by the
    /// first server that needs it (create-if-absent, so two never disagree).
    pub async fn load_or_create(meta: &dyn MetaStore) -> Result<Self, AuthError> {
        for _ in 0..3 {
            if let Some(kv) = meta.get(GRANT_KEY).await? {
                let bytes: [u8; 32] = hex::decode(&kv.value)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| AuthError::Invalid(format!("corrupt {GRANT_KEY}")))?;
                return Ok(Self(bytes));
            }
            let mut fresh = [0u8; 32];
            getrandom::fill(&mut fresh).map_err(|e| AuthError::Invalid(format!("no random numbers: {e}")))?;
            let created = meta
                .txn(Txn::new().when_revision(GRANT_KEY, 0).put(GRANT_KEY, hex::encode(fresh).into_bytes()))
                .await?;
            if created {
                return Ok(Self(fresh));
            }
        }
        Err(AuthError::Invalid(format!("{GRANT_KEY} changed concurrently; try again")))
    }

    fn mac(&self, body: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(body.as_bytes());
        mac
    }

    /// A grant to read `manifest`'s entries in `project` until `expires_unix_s`.
    pub fn issue(&self, project: &str, manifest: &Digest, expires_unix_s: u64) -> String {
        let body = format!("{PREFIX}:{project}:{manifest}:{expires_unix_s}");
        let tag = hex::encode(self.mac(&body).finalize().into_bytes());
        format!("{body}:{tag}")
    }

    /// The grant `text` is, if it was signed with this key and has not expired at `now_unix_s`.
    pub fn verify(&self, text: &str, now_unix_s: u64) -> Result<ReadGrant, AuthError> {
        let invalid = || AuthError::GrantInvalid;
        let body = self.signed_body(text).ok_or_else(invalid)?;
        let mut fields = body.split(':');
        let (Some(PREFIX), Some(project), Some(manifest), Some(expires), None) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(invalid());
        };
        let manifest = Digest::parse_hex(manifest).map_err(|_| invalid())?;
        let expires: u64 = expires.parse().map_err(|_| invalid())?;
        if expires <= now_unix_s {
            return Err(AuthError::GrantExpired);
        }
        Ok(ReadGrant { project: project.to_owned(), manifest })
    }

    /// The part of `text` before its tag, if the tag is this key's (compared in constant
    /// time: timing tells nothing about the right tag).
    fn signed_body<'a>(&self, text: &'a str) -> Option<&'a str> {
        let (body, tag) = text.rsplit_once(':')?;
        let tag = hex::decode(tag).ok()?;
        self.mac(body).verify_slice(&tag).ok()?;
        Some(body)
    }

    /// A receipt that a caller of `project` sent the whole blob `digest` of `size` bytes.
    pub fn issue_receipt(&self, project: &str, digest: &Digest, size: u64, expires_unix_s: u64) -> String {
        let body = format!("{RECEIPT_PREFIX}:{project}:{digest}:{size}:{expires_unix_s}");
        let tag = hex::encode(self.mac(&body).finalize().into_bytes());
        format!("{body}:{tag}")
    }

    /// The receipt `text` is, if this key signed it and it has not expired.
    pub fn verify_receipt(&self, text: &str, now_unix_s: u64) -> Result<UploadReceipt, AuthError> {
        let invalid = || AuthError::ReceiptInvalid;
        let body = self.signed_body(text).ok_or_else(invalid)?;
        let mut fields = body.split(':');
        let (Some(RECEIPT_PREFIX), Some(project), Some(digest), Some(size), Some(expires), None) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(invalid());
        };
        let digest = Digest::parse_hex(digest).map_err(|_| invalid())?;
        let size: u64 = size.parse().map_err(|_| invalid())?;
        let expires: u64 = expires.parse().map_err(|_| invalid())?;
        if expires <= now_unix_s {
            return Err(AuthError::ReceiptExpired { sha256: digest.to_string() });
        }
        Ok(UploadReceipt { project: project.to_owned(), digest, size })
    }
}

/// Seconds since the Unix epoch.
pub fn now_unix_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> GrantKey {
        GrantKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_grant_verifies_under_its_key_until_it_expires_and_names_what_it_allows() {
        let manifest = Digest::of(b"manifest");
        let grant = key(1).issue("vision", &manifest, 1_000);
        assert_eq!(key(1).verify(&grant, 999).unwrap(), ReadGrant { project: "vision".into(), manifest });
        assert!(matches!(key(1).verify(&grant, 1_000), Err(AuthError::GrantExpired)));
        assert!(matches!(key(2).verify(&grant, 999), Err(AuthError::GrantInvalid)), "another key");
    }

    #[test]
    fn any_change_to_a_grant_makes_it_invalid() {
        let grant = key(1).issue("vision", &Digest::of(b"m"), 5_000);
        let other_project = grant.replacen("vision", "nlp", 1);
        let later = grant.replacen(":5000:", ":9000:", 1);
        let other_manifest = grant.replacen(&Digest::of(b"m").to_string(), &Digest::of(b"n").to_string(), 1);
        for forged in [other_project, later, other_manifest, format!("{grant}0"), String::new(), "x:y".into()] {
            assert!(matches!(key(1).verify(&forged, 1), Err(AuthError::GrantInvalid)), "{forged:?} verified");
        }
    }

    #[test]
    fn receipts_and_grants_are_not_interchangeable_and_receipts_resist_changes() {
        let digest = Digest::of(b"blob");
        let receipt = key(1).issue_receipt("vision", &digest, 4, 5_000);
        let expected = UploadReceipt { project: "vision".into(), digest, size: 4 };
        assert_eq!(key(1).verify_receipt(&receipt, 1).unwrap(), expected);
        assert!(matches!(key(1).verify_receipt(&receipt, 5_000), Err(AuthError::ReceiptExpired { .. })));
        assert!(key(1).verify(&receipt, 1).is_err(), "a receipt is no read grant");
        let grant = key(1).issue("vision", &digest, 5_000);
        assert!(key(1).verify_receipt(&grant, 1).is_err(), "a read grant is no receipt");
        for forged in [receipt.replacen(":4:", ":5:", 1), receipt.replacen("vision", "nlp", 1), format!("{receipt}0")] {
            assert!(matches!(key(1).verify_receipt(&forged, 1), Err(AuthError::ReceiptInvalid)), "{forged:?}");
        }
        assert!(key(2).verify_receipt(&receipt, 1).is_err(), "another cluster's key");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn arbitrary_text_never_verifies(text in "\\PC{0,200}") {
            proptest::prop_assert!(key(1).verify(&text, 0).is_err());
            proptest::prop_assert!(key(1).verify_receipt(&text, 0).is_err());
        }
    }
}
