//! Validation of the names users choose: projects, artifacts, types, aliases, draft and
//! writer ids. Every check names what it rejected and why.

use crate::CoreError;

fn check(
    kind: &'static str,
    value: &str,
    max_len: usize,
    allowed: impl Fn(u8) -> bool,
    charset: &'static str,
) -> Result<(), CoreError> {
    let err = |why| CoreError::InvalidName { kind, value: value.chars().take(200).collect(), why };
    if value.is_empty() {
        return Err(err("must not be empty"));
    }
    if value.len() > max_len {
        return Err(err("too long"));
    }
    if !value.bytes().all(allowed) {
        return Err(err(charset));
    }
    Ok(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn is_id_byte(b: u8) -> bool {
    is_name_byte(b) || matches!(b, b':' | b'@')
}

/// Project: `[a-z0-9][a-z0-9._-]{0,63}`.
pub fn validate_project(value: &str) -> Result<(), CoreError> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-');
    check("project", value, 64, allowed, "allowed characters are a-z 0-9 . _ -")?;
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(CoreError::InvalidName {
            kind: "project",
            value: value.to_owned(),
            why: "must start with a-z or 0-9",
        });
    }
    Ok(())
}

/// Artifact name: `[A-Za-z0-9._-]{1,128}`.
pub fn validate_artifact(value: &str) -> Result<(), CoreError> {
    check("artifact name", value, 128, is_name_byte, "allowed characters are A-Z a-z 0-9 . _ -")
}

/// Artifact type: `[A-Za-z0-9._-]{1,64}`.
pub fn validate_type(value: &str) -> Result<(), CoreError> {
    check("artifact type", value, 64, is_name_byte, "allowed characters are A-Z a-z 0-9 . _ -")
}

/// User alias: `[A-Za-z0-9._-]{1,128}`, neither `latest` (managed by cairn) nor `vN`
/// (implicit version names).
pub fn validate_alias(value: &str) -> Result<(), CoreError> {
    check("alias", value, 128, is_name_byte, "allowed characters are A-Z a-z 0-9 . _ -")?;
    if value == "latest" {
        return Err(CoreError::InvalidName {
            kind: "alias",
            value: value.to_owned(),
            why: "`latest` always names the newest version and cannot be set",
        });
    }
    if is_version_index(value) {
        return Err(CoreError::InvalidName {
            kind: "alias",
            value: value.to_owned(),
            why: "`vN` names version N implicitly and cannot be set",
        });
    }
    Ok(())
}

/// True for `v` followed by one or more digits.
pub(crate) fn is_version_index(value: &str) -> bool {
    value.len() > 1 && value.starts_with('v') && value[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Draft id shared by the writers: `[A-Za-z0-9._:@-]{1,256}`.
pub fn validate_distributed_id(value: &str) -> Result<(), CoreError> {
    check("distributed_id", value, 256, is_id_byte, "allowed characters are A-Z a-z 0-9 . _ - : @")
}

/// Request id (client-chosen, for idempotent retries): `[A-Za-z0-9._:@-]{1,64}`.
pub fn validate_request_id(value: &str) -> Result<(), CoreError> {
    check("request_id", value, 64, is_id_byte, "allowed characters are A-Z a-z 0-9 . _ - : @")
}

/// Writer id: `[A-Za-z0-9._:@-]{1,256}`.
pub fn validate_writer_id(value: &str) -> Result<(), CoreError> {
    check("writer_id", value, 256, is_id_byte, "allowed characters are A-Z a-z 0-9 . _ - : @")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_the_documented_pattern() {
        for good in ["default", "a", "ml-team.v2_x", "0abc"] {
            assert!(validate_project(good).is_ok(), "{good}");
        }
        for bad in ["", "Default", "-x", ".x", "a/b", "a b", &"a".repeat(65)] {
            assert!(validate_project(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn artifact_names_and_types_follow_the_documented_pattern() {
        assert!(validate_artifact("My_Model-1.0").is_ok());
        assert!(validate_artifact(&"a".repeat(128)).is_ok());
        assert!(validate_artifact(&"a".repeat(129)).is_err());
        assert!(validate_artifact("a/b").is_err());
        assert!(validate_artifact("a:b").is_err());
        assert!(validate_type(&"t".repeat(64)).is_ok());
        assert!(validate_type(&"t".repeat(65)).is_err());
    }

    #[test]
    fn aliases_refuse_latest_and_version_indices() {
        assert!(validate_alias("best").is_ok());
        assert!(validate_alias("v").is_ok());
        assert!(validate_alias("v1a").is_ok());
        assert_eq!(validate_alias("v3").unwrap_err().reason(), "INVALID_NAME");
        assert!(validate_alias("latest").is_err());
        assert!(validate_alias("a:b").is_err());
    }

    #[test]
    fn ids_allow_colons_and_at_signs() {
        assert!(validate_distributed_id("job-7:attempt@2").is_ok());
        assert!(validate_writer_id("rank-0").is_ok());
        assert!(validate_writer_id("a/b").is_err());
        assert!(validate_distributed_id("").is_err());
    }
}
