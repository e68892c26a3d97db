//! References to versions: `[project/]artifact[:alias|:vN|@sha256:<digest>]`.

use crate::names::{is_version_index, validate_alias, validate_artifact, validate_project};
use crate::{CoreError, Digest};

/// Which version of an artifact a reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// An alias; `latest` names the newest version.
    Alias(String),
    /// `vN`.
    Index(u64),
    /// `@sha256:<digest>`: the version whose manifest has this digest.
    Digest(Digest),
}

impl Selector {
    /// The selector meaning "newest version".
    pub fn latest() -> Self {
        Selector::Alias("latest".to_owned())
    }

    /// Parses a selector alone: `vN`, an alias, `latest`, or `sha256:<digest>` (with or
    /// without a leading `@`).
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let digest_part = text.strip_prefix('@').unwrap_or(text);
        if let Some(hex) = digest_part.strip_prefix("sha256:") {
            return Ok(Selector::Digest(Digest::parse_hex(hex)?));
        }
        if is_version_index(text) {
            let index = text[1..].parse::<u64>().map_err(|_| CoreError::InvalidReference {
                value: text.to_owned(),
                why: "version index out of range",
            })?;
            return Ok(Selector::Index(index));
        }
        if text == "latest" {
            return Ok(Selector::latest());
        }
        validate_alias(text)?;
        Ok(Selector::Alias(text.to_owned()))
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Alias(alias) => write!(f, ":{alias}"),
            Selector::Index(index) => write!(f, ":v{index}"),
            Selector::Digest(digest) => write!(f, "@sha256:{digest}"),
        }
    }
}

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The project, when the reference names one.
    pub project: Option<String>,
    /// The artifact name.
    pub artifact: String,
    /// The version within the artifact; a bare name means `latest`.
    pub selector: Selector,
}

impl Reference {
    /// Parses `[project/]artifact[:alias|:vN|@sha256:<digest>]`.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let invalid = |why| CoreError::InvalidReference { value: text.to_owned(), why };
        let (project, rest) = match text.split_once('/') {
            Some((project, rest)) => {
                validate_project(project)?;
                (Some(project.to_owned()), rest)
            }
            None => (None, text),
        };
        let (artifact, selector) = if let Some((artifact, digest)) = rest.split_once('@') {
            let hex = digest.strip_prefix("sha256:").ok_or_else(|| invalid("expected @sha256:<digest>"))?;
            (artifact, Selector::Digest(Digest::parse_hex(hex)?))
        } else if let Some((artifact, selector)) = rest.split_once(':') {
            if selector.is_empty() {
                return Err(invalid("empty version after `:`"));
            }
            (artifact, Selector::parse(selector)?)
        } else {
            (rest, Selector::latest())
        };
        if artifact.is_empty() {
            return Err(invalid("missing artifact name"));
        }
        validate_artifact(artifact)?;
        Ok(Self { project, artifact: artifact.to_owned(), selector })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_name_means_latest() {
        let r = Reference::parse("model").unwrap();
        assert_eq!(r, Reference { project: None, artifact: "model".into(), selector: Selector::latest() });
    }

    #[test]
    fn parses_project_alias_index_and_digest_forms() {
        let r = Reference::parse("team/model:best").unwrap();
        assert_eq!(r.project.as_deref(), Some("team"));
        assert_eq!(r.selector, Selector::Alias("best".into()));
        assert_eq!(Reference::parse("model:v12").unwrap().selector, Selector::Index(12));
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let r = Reference::parse(&format!("p/m@sha256:{hex}")).unwrap();
        assert_eq!(r.selector, Selector::Digest(Digest::parse_hex(hex).unwrap()));
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in ["", ":v1", "m:", "m@md5:00", "Bad Project/m", "m:a/b", "m@sha256:xyz"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selector_parses_base_forms() {
        assert_eq!(Selector::parse("v0").unwrap(), Selector::Index(0));
        assert_eq!(Selector::parse("latest").unwrap(), Selector::latest());
        assert!(Selector::parse("v99999999999999999999999").is_err());
    }
}
