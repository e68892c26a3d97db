//! What each command prints: a human line (or table) by default, one JSON value with --json.

use cairn_client::{
    ArtifactInfo, CommitSummary, DeleteSummary, DraftSummary, GcSummary, GetSummary, ManifestEntry, VersionInfo,
};
use serde_json::{Value, json};

/// A command's result with both of its renderings.
pub struct Printer {
    human: String,
    json: Value,
    /// Why the command fails though it printed an answer (exit 1).
    failure: Option<String>,
}

/// Prints the result on stdout.
pub fn emit(printer: Printer, json: bool) {
    if printer.json.is_null() && printer.human.is_empty() {
        return; // the command wrote its own output (cat)
    }
    if json {
        println!("{}", printer.json);
    } else if !printer.human.is_empty() {
        println!("{}", printer.human);
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

impl Printer {
    /// `NAME:vK` for log, finish and edit.
    pub fn commit(summary: CommitSummary) -> Self {
        Self { human: format!("{}:{}", summary.name, summary.version), json: to_json(&summary), failure: None }
    }

    /// A draft's state after upsert, abort or draft.
    pub fn draft(summary: DraftSummary) -> Self {
        let writer = summary.writer.as_deref().map(|w| {
            format!(" writer {w}{} with {} files;", if summary.sealed { " (sealed)" } else { "" }, summary.writer_files)
        });
        let human = format!(
            "{}/{}: draft {} is {};{} {} files staged, unsealed writers: [{}]",
            summary.project,
            summary.name,
            summary.distributed_id,
            summary.state,
            writer.unwrap_or_default(),
            summary.draft_files,
            summary.unsealed_writers.join(", "),
        );
        Self { human, json: to_json(&summary), failure: None }
    }

    /// The outcome of get.
    pub fn get(summary: GetSummary) -> Self {
        let human = format!(
            "{}:{} -> {} ({} files, {}; {} downloaded, {} already present)",
            summary.name,
            summary.version,
            summary.dir,
            summary.files,
            human_bytes(summary.bytes),
            human_bytes(summary.downloaded_bytes),
            summary.skipped_files
        );
        Self { human, json: to_json(&summary), failure: None }
    }

    /// What this environment would use, and where each value came from.
    pub fn whoami(
        options: &crate::args::ClientOptions,
        identity: &cairn_client::JobIdentity,
        caller: Result<Option<cairn_client::Identity>, String>,
    ) -> Self {
        let origin = |value: &str, env: &str, flag: &str, default: &str| {
            if std::env::var(env).is_ok_and(|v| v == value) {
                env.to_owned()
            } else if value == default {
                "default".to_owned()
            } else {
                flag.to_owned()
            }
        };
        let server_from = origin(&options.server, "CAIRN_SERVER", "--server", cairn_client::DEFAULT_SERVER);
        let project_from = origin(&options.project, "CAIRN_PROJECT", "--project", "default");
        let field = |found: &Result<cairn_client::Sourced, String>| match found {
            Ok(s) => (Value::String(s.value.clone()), s.source.clone()),
            Err(why) => (Value::Null, why.clone()),
        };
        let (distributed_id, distributed_id_from) = field(&identity.distributed_id);
        let (writer, writer_from) = field(&identity.writer);
        let token_from = match &options.token {
            None => "none",
            Some(token) if std::env::var("CAIRN_TOKEN").is_ok_and(|v| v == *token) => "CAIRN_TOKEN",
            Some(_) => "--token",
        };
        // The server's view: who the token is, that none is needed, or why it could not say.
        let (caller_json, caller_human) = match &caller {
            Ok(Some(who)) => (to_json(who), format!("{} ({} of project {})", who.token_id, who.role, who.project)),
            Ok(None) => (Value::Null, "(the server needs no token)".to_owned()),
            Err(why) => (Value::Null, format!("(unknown: {why})")),
        };
        let shown = |v: &Value| v.as_str().map_or("(none)".to_owned(), str::to_owned);
        let human = format!(
            "server          {}  ({server_from})\nproject         {}  ({project_from})\ndistributed_id  {}  ({distributed_id_from})\nwriter          {}  ({writer_from})\ntoken           {token_from}\nidentity        {caller_human}",
            options.server,
            options.project,
            shown(&distributed_id),
            shown(&writer)
        );
        let json = json!({
            "server": options.server,
            "project": options.project,
            "distributed_id": distributed_id,
            "writer": writer,
            "identity": caller_json,
            "sources": {
                "server": server_from,
                "project": project_from,
                "distributed_id": distributed_id_from,
                "writer": writer_from,
                "token": token_from,
            },
        });
        Self { human, json, failure: None }
    }

    /// A token just made: its secret, shown this once.
    pub fn token_created(token: cairn_client::CreatedToken) -> Self {
        let human = format!(
            "{}\n(token {} for project {} as {}; shown only now: keep it secret)",
            token.token, token.id, token.project, token.role
        );
        Self { human, json: to_json(&token), failure: None }
    }

    /// Token records, one per line.
    pub fn tokens(tokens: Vec<cairn_client::TokenInfo>) -> Self {
        let human = tokens
            .iter()
            .map(|t| {
                let state = match (t.revoked_unix_ms, t.expires_unix_ms) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(at)) => format!("expires {at}"),
                    (None, None) => "no expiry".to_owned(),
                };
                format!("{}  {}  {}  {state}", t.id, t.project, t.role)
            })
            .collect::<Vec<_>>()
            .join("\n");
        Self { human, json: to_json(&tokens), failure: None }
    }

    /// A project's usage against its limits.
    pub fn quota(usage: cairn_client::QuotaUsage) -> Self {
        let limit = |max: Option<u64>, show: &dyn Fn(u64) -> String| match max {
            Some(max) => format!("of {}", show(max)),
            None => "(no limit)".to_owned(),
        };
        let source = if usage.quota_is_set { "set for this project" } else { "the server's defaults" };
        let human = format!(
            "project {}: {} stored in {} versions {}; {} open drafts {}; limits are {source}",
            usage.project,
            human_bytes(usage.stored_bytes),
            usage.versions,
            limit(usage.max_bytes, &human_bytes),
            usage.open_drafts,
            limit(usage.max_open_drafts, &|n| n.to_string()),
        );
        Self { human, json: to_json(&usage), failure: None }
    }

    /// Nothing: the command wrote its output itself.
    pub fn nothing() -> Self {
        Self { human: String::new(), json: Value::Null, failure: None }
    }

    /// What a delete removed.
    pub fn deleted(summary: DeleteSummary) -> Self {
        let versions: Vec<String> = summary.deleted.iter().map(|v| format!("{}:{v}", summary.name)).collect();
        let latest = match &summary.latest {
            Some(latest) => format!("latest is now {}:{latest}", summary.name),
            None => format!("{} has no versions left", summary.name),
        };
        let aliases = match summary.deleted_aliases.is_empty() {
            true => String::new(),
            false => format!(" and aliases {}", summary.deleted_aliases.join(", ")),
        };
        Self {
            human: format!("deleted {}{aliases}; {latest}", versions.join(", ")),
            json: to_json(&summary),
            failure: None,
        }
    }

    /// An artifact's retention policy.
    pub fn retention(name: &str, keep_last: u64) -> Self {
        let human = match keep_last {
            0 => format!("{name}: no retention policy; versions are kept until deleted"),
            n => format!("{name}: the garbage collector keeps the newest {n} versions and every aliased one"),
        };
        Self { human, json: json!({ "name": name, "keep_last": keep_last }), failure: None }
    }

    /// What a garbage collection freed.
    pub fn gc(summary: GcSummary) -> Self {
        let verb = if summary.dry_run { "would free" } else { "freed" };
        let human = format!(
            "{verb} {} blobs and {} manifests ({}); kept {}; {} staging segments, {} abandoned uploads",
            summary.deleted_blobs,
            summary.deleted_manifests,
            human_bytes(summary.freed_bytes),
            summary.kept_blobs,
            summary.deleted_staging,
            summary.deleted_checkpoints + summary.aborted_uploads
        );
        Self { human, json: to_json(&summary), failure: None }
    }

    /// What fsck found; a failure when anything is missing or corrupt.
    pub fn fsck(summary: cairn_client::FsckSummary) -> Self {
        let problem = |kind: &str, item: &cairn_client::FsckItem| {
            format!("{kind} {} {} {}", item.reference, item.path.as_deref().unwrap_or("(manifest)"), item.sha256)
        };
        let mut lines: Vec<String> = summary.missing.iter().map(|i| problem("missing", i)).collect();
        lines.extend(summary.corrupt.iter().map(|i| problem("corrupt", i)));
        lines.push(format!(
            "checked {} versions and {} blobs: {} missing, {} corrupt, {} repaired",
            summary.versions_checked,
            summary.blobs_checked,
            summary.missing_count,
            summary.corrupt_count,
            summary.repaired
        ));
        let failure = (summary.missing_count + summary.corrupt_count > 0)
            .then(|| format!("{} objects missing and {} corrupt", summary.missing_count, summary.corrupt_count));
        Self { human: lines.join("\n"), json: to_json(&summary), failure }
    }

    /// Why the command fails though it has an answer to print.
    pub fn failure(&self) -> Option<String> {
        self.failure.clone()
    }

    /// A table of versions.
    pub fn versions(versions: Vec<VersionInfo>) -> Self {
        let human = versions
            .iter()
            .map(|v| {
                format!(
                    "{}\t{}\t{} files\t{}\t{}",
                    v.version,
                    &v.digest[..12.min(v.digest.len())],
                    v.files,
                    human_bytes(v.bytes),
                    v.aliases.join(",")
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Self { human, json: to_json(&versions), failure: None }
    }

    /// A version's entries.
    pub fn manifest(version: VersionInfo, entries: Vec<ManifestEntry>) -> Self {
        let human =
            entries.iter().map(|e| format!("{}  {:>12}  {}", e.sha256, e.size, e.path)).collect::<Vec<_>>().join("\n");
        let json = json!({
            "name": version.name,
            "version": version.version,
            "digest": version.digest,
            "files": version.files,
            "bytes": version.bytes,
            "entries": to_json(&entries),
        });
        Self { human, json, failure: None }
    }

    /// An alias set.
    pub fn alias(version: VersionInfo, alias: String) -> Self {
        let human = format!("{}:{} -> {}:{}", version.name, alias, version.name, version.version);
        let json =
            json!({ "name": version.name, "alias": alias, "version": version.version, "digest": version.digest });
        Self { human, json, failure: None }
    }

    /// An alias removed.
    pub fn alias_deleted(name: String, alias: String, previous: u64) -> Self {
        let human = format!("removed {name}:{alias} (was v{previous})");
        let json = json!({ "name": name, "alias": alias, "deleted": true, "previous_version": format!("v{previous}") });
        Self { human, json, failure: None }
    }

    /// A table of artifacts; nothing for an empty project.
    pub fn artifacts(artifacts: Vec<ArtifactInfo>) -> Self {
        let human = artifacts
            .iter()
            .map(|a| format!("{}\t{}\t{}\t{} versions", a.name, a.artifact_type, a.latest, a.versions))
            .collect::<Vec<_>>()
            .join("\n");
        Self { human, json: to_json(&artifacts), failure: None }
    }
}
