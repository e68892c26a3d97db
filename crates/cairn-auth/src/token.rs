//! Tokens: `cairn_<id>_<secret>`, where the id (12 hex digits) names the record and the
//! secret is 256 random bits in hex. Only the secret's sha256 is stored.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do, each role including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads versions, manifests and blobs.
    Reader,
    /// Also logs, upserts, finishes, aborts, edits, updates properties and moves aliases.
    Writer,
    /// Also deletes, sets retention, runs the collector and manages tokens.
    Admin,
}

impl Role {
    /// `reader`, `writer` or `admin`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }
}

/// The project scope of a token valid in every project (the bootstrap token's).
pub const ALL_PROJECTS: &str = "*";

/// A token as stored: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The token's public id.
    pub id: String,
    /// sha256 of the secret, lowercase hex.
    pub secret_sha256: String,
    /// The project it may act in, or `*`.
    pub project: String,
    /// What it may do there.
    pub role: Role,
    /// When it was made, ms since the epoch.
    pub created_unix_ms: i64,
    /// When it stops being accepted, if ever.
    pub expires_unix_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_unix_ms: Option<i64>,
}

/// A token just made: the record to store and the secret to show once.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub record: TokenRecord,
    /// The whole token, `cairn_<id>_<secret>`.
    pub token: String,
}

/// Makes a token for `project` with `role`.
pub fn generate(project: &str, role: Role, now_ms: i64, expires_unix_ms: Option<i64>) -> NewToken {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).expect("the OS random generator works");
    getrandom::fill(&mut secret).expect("the OS random generator works");
    let (id, secret) = (hex::encode(id), hex::encode(secret));
    NewToken {
        token: format!("cairn_{id}_{secret}"),
        record: TokenRecord {
            id,
            secret_sha256: hash(&secret),
            project: project.to_owned(),
            role,
            created_unix_ms: now_ms,
            expires_unix_ms,
            revoked_unix_ms: None,
        },
    }
}

/// sha256 of a secret, lowercase hex.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The (id, secret) of a well-formed token.
pub fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("cairn_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex_of = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_of(id, 12) && hex_of(secret, 64)).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Whatever a caller sends as a bearer token, splitting it never panics and
        /// accepts only `cairn_<12 hex>_<64 hex>`.
        #[test]
        fn any_bearer_text_splits_only_in_the_token_shape(
            text in prop_oneof!["cairn_[0-9a-fA-F_]{10,14}_[0-9a-f]{60,68}", "\\PC{0,90}"],
        ) {
            if let Some((id, secret)) = split(&text) {
                let rebuilt = format!("cairn_{id}_{secret}");
                prop_assert_eq!(&text, &rebuilt);
                prop_assert!(id.len() == 12 && secret.len() == 64);
                prop_assert!(id.bytes().chain(secret.bytes()).all(|b| b.is_ascii_hexdigit()));
            }
            let _ = Role::parse(&text);
        }
    }

    #[test]
    fn a_generated_token_splits_into_its_id_and_a_secret_that_hashes_to_the_record() {
        let made = generate("vision", Role::Writer, 1, None);
        let (id, secret) = split(&made.token).unwrap();
        assert_eq!(id, made.record.id);
        assert_eq!(hash(secret), made.record.secret_sha256);
        assert!(!serde_json::to_string(&made.record).unwrap().contains(secret), "the secret is never stored");
        assert_ne!(generate("vision", Role::Writer, 1, None).token, made.token);
    }

    #[test]
    fn malformed_tokens_do_not_split() {
        for bad in
            ["", "cairn_", "cairn_abc_def", "other_0123456789ab_00", &format!("cairn_0123456789ab_{}", "g".repeat(64))]
        {
            assert!(split(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::Reader < Role::Writer && Role::Writer < Role::Admin);
        for role in [Role::Reader, Role::Writer, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
