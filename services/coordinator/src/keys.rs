//! The MetaStore key layout (docs/architecture.md). Project, artifact, alias and
//! distributed_id never contain `/`, so each prefix below is unambiguous.

/// The artifact record: type and next version index.
pub(crate) fn artifact(project: &str, artifact: &str) -> String {
    format!("artifacts/{project}/{artifact}")
}

/// The project and artifact an artifact record's key names.
pub(crate) fn parse_artifact(key: &str) -> Option<(&str, &str)> {
    let (project, artifact) = key.strip_prefix("artifacts/")?.split_once('/')?;
    (!artifact.contains('/')).then_some((project, artifact))
}

/// Prefix of every artifact record of a project.
pub(crate) fn artifacts_prefix(project: &str) -> String {
    format!("artifacts/{project}/")
}

/// A version record; the zero-padded index keeps range order equal to index order.
pub(crate) fn version(project: &str, artifact: &str, index: u64) -> String {
    format!("versions/{project}/{artifact}/{index:020}")
}

/// The project, artifact and index a version record's key names.
pub(crate) fn parse_version(key: &str) -> Option<(&str, &str, u64)> {
    let mut parts = key.strip_prefix("versions/")?.split('/');
    let (project, artifact, index) = (parts.next()?, parts.next()?, parts.next()?.parse().ok()?);
    parts.next().is_none().then_some((project, artifact, index))
}

/// Prefix of every version record of an artifact.
pub(crate) fn versions_prefix(project: &str, artifact: &str) -> String {
    format!("versions/{project}/{artifact}/")
}

/// Prefix of every version record of a project.
pub(crate) fn versions_of_project_prefix(project: &str) -> String {
    format!("versions/{project}/")
}

/// A project's own quota (absent: the server's defaults).
pub(crate) fn quota(project: &str) -> String {
    format!("quotas/{project}")
}

/// Version digest → index, for `@sha256:` references.
pub(crate) fn digest(project: &str, artifact: &str, digest: &cairn_core::Digest) -> String {
    format!("digests/{project}/{artifact}/{digest}")
}

/// A user alias → index.
pub(crate) fn alias(project: &str, artifact: &str, alias: &str) -> String {
    format!("aliases/{project}/{artifact}/{alias}")
}

/// Prefix of every user alias of an artifact.
pub(crate) fn aliases_prefix(project: &str, artifact: &str) -> String {
    format!("aliases/{project}/{artifact}/")
}

/// A draft record.
pub(crate) fn draft(project: &str, artifact: &str, distributed_id: &str) -> String {
    format!("drafts/{project}/{artifact}/{distributed_id}")
}

/// Prefix of every draft record of a project.
pub(crate) fn drafts_of_project_prefix(project: &str) -> String {
    format!("drafts/{project}/")
}

/// Prefix of every draft record.
pub(crate) const DRAFTS_PREFIX: &str = "drafts/";

/// The owner of an open draft (leased by the owning replica).
pub(crate) fn owner(project: &str, artifact: &str, distributed_id: &str) -> String {
    format!("owners/{project}/{artifact}/{distributed_id}")
}

/// The owner key of the draft whose record is at `draft_key`.
pub(crate) fn owner_of_draft(draft_key: &str) -> Option<String> {
    draft_key.strip_prefix(DRAFTS_PREFIX).map(|rest| format!("owners/{rest}"))
}

/// What an earlier attempt of a Log request with this id committed (leased: kept about a day).
pub(crate) fn request(project: &str, artifact: &str, request_id: &str) -> String {
    format!("requests/{project}/{artifact}/{request_id}")
}
