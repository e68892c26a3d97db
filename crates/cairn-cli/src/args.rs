//! The command line, as documented in docs/cli.md.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// cairn: versioned artifacts for distributed ML training.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options every client command takes.
#[derive(Debug, Args, Clone)]
pub struct ClientOptions {
    /// Server address.
    #[arg(long, env = "CAIRN_SERVER", default_value = cairn_client::DEFAULT_SERVER, global = true)]
    pub server: String,
    /// Project (namespace).
    #[arg(long, env = "CAIRN_PROJECT", default_value = "default", global = true)]
    pub project: String,
    /// Print one JSON value instead of human-readable output.
    #[arg(long, global = true)]
    pub json: bool,
    /// API token (servers with authentication; docs/security.md).
    #[arg(long, env = "CAIRN_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run coordinator and storage worker in one process on an embedded store.
    Dev(DevArgs),
    /// Measure cairn against this machine's own hash+copy limit (docs/performance.md).
    Bench(crate::bench::BenchArgs),
    /// Run a coordinator replica (etcd and S3 in a cluster; see docs/configuration.md).
    Coordinator(cairn_coordinator::CoordinatorArgs),
    /// Run a storage worker (S3 in a cluster; see docs/configuration.md).
    Worker(cairn_worker::WorkerConfig),
    /// Log a complete version from one run; prints NAME:vK.
    Log(LogArgs),
    /// Add this writer's files to a distributed draft.
    Upsert(UpsertArgs),
    /// Commit a distributed draft; prints NAME:vK.
    Finish(FinishArgs),
    /// Abandon a distributed draft.
    Abort(DraftArgs),
    /// Show a draft's state and writers.
    Draft(DraftArgs),
    /// Make a new version from REF by adding, replacing and removing files; prints NAME:vK.
    Edit(EditArgs),
    /// Download every file of a version and verify it.
    Get(GetArgs),
    /// List the versions of an artifact.
    Versions(VersionsArgs),
    /// List the files of a version.
    Manifest(RefArgs),
    /// Manage aliases.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// List the artifacts of the project.
    Ls(LsArgs),
    /// Delete a version (REF), or every version of an artifact (NAME --all).
    Delete(DeleteArgs),
    /// Run the garbage collector now: free what no version, open draft or upload in
    /// flight refers to.
    Gc(GcArgs),
    /// Check that every live version's manifest and blobs exist (--deep: re-hash them);
    /// --repair restores what is missing from the collector's trash. Exit 1 when anything
    /// is missing or corrupt afterwards. Needs an admin token of every project.
    Fsck(FsckArgs),
    /// Set an artifact's retention policy, applied by the garbage collector.
    Retention(RetentionArgs),
    /// Write one file of a version to standard output, after its sha256 verified.
    Cat(CatArgs),
    /// Show the server, project, distributed_id and writer this environment would use, and
    /// where each came from.
    Whoami(WhoamiArgs),
    /// Manage API tokens (admins).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show or set the project's quota (stored bytes, open drafts).
    #[command(subcommand)]
    Quota(QuotaCommand),
}

#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// The project's usage and the limits that apply to it.
    Show(QuotaShowArgs),
    /// Set the project's limits (needs an admin token of every project).
    Set(QuotaSetArgs),
    /// Put the project back on the server's default limits (needs an admin token of every project).
    Reset(QuotaShowArgs),
}

#[derive(Debug, Args)]
pub struct QuotaShowArgs {
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct QuotaSetArgs {
    /// Most logical bytes of committed versions (`500GiB`, `2TB`, `1048576`); 0: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_bytes: u64,
    /// Most drafts open at once; 0: no limit.
    #[arg(long, value_name = "N")]
    pub max_open_drafts: u64,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for --project with a role; prints its secret, shown this once.
    Create(TokenCreateArgs),
    /// List tokens (never their secrets).
    List(TokenListArgs),
    /// Revoke a token: it is refused from then on.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// reader, writer or admin.
    #[arg(long)]
    pub role: String,
    /// Lifetime (`90d`, `12h`, `3600`); unset: it never expires.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expires_in: Option<u64>,
    /// A token for every project (only the bootstrap token, or another of `*`, may ask).
    #[arg(long, conflicts_with = "project")]
    pub all_projects: bool,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// Tokens of every project the caller administers, not only --project's.
    #[arg(long)]
    pub all_projects: bool,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (from `cairn token list`).
    pub id: String,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Directory holding metadata and blobs.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = ".cairn")]
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "CAIRN_LISTEN", default_value = "127.0.0.1:7420")]
    pub listen: SocketAddr,
    /// Seconds between scans that expire idle drafts and release their staged data.
    #[arg(long, default_value_t = 30)]
    pub expiry_sweep_secs: u64,
    /// Address of the admin HTTP server (Prometheus `/metrics`); unset: no admin server.
    #[arg(long, env = "CAIRN_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub housekeeping: cairn_coordinator::HousekeepingArgs,
    #[command(flatten)]
    pub tls: cairn_proto::tls::TlsArgs,
    #[command(flatten)]
    pub limits: cairn_worker::StreamLimits,
    #[command(flatten)]
    pub connections: cairn_proto::server::ConnectionLimits,
    /// Require tokens (off by default on loopback; `CAIRN_BOOTSTRAP_TOKEN` is the first admin).
    #[arg(long, env = "CAIRN_AUTH")]
    pub auth: bool,
    /// Serve without authentication on an address beyond loopback.
    #[arg(long, env = "CAIRN_INSECURE_NO_AUTH", conflicts_with = "auth")]
    pub insecure_no_auth: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Files or directories to version.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Artifact name.
    #[arg(long)]
    pub name: String,
    /// Artifact type (fixed by the first version).
    #[arg(long = "type")]
    pub artifact_type: String,
    /// Alias to point at the version (repeatable).
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// Version metadata as a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Producer id recorded with the version (default: CAIRN_WRITER, else the host name).
    #[arg(long)]
    pub writer: Option<String>,
    /// Time to live of the new version (`90s`, `15m`, `12h`, `30d`, `2w`, or seconds): then
    /// the garbage collector deletes it, unless a user alias names it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<u64>,
    /// Upload files that `.cairnignore` files would leave out (`.git`, `.cairn` and the
    /// client's cache are left out all the same).
    #[arg(long)]
    pub no_ignore: bool,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct UpsertArgs {
    /// Files or directories this writer contributes; none with --seal only seals.
    pub paths: Vec<PathBuf>,
    /// Artifact name.
    #[arg(long)]
    pub name: String,
    /// Artifact type; required when adding files.
    #[arg(long = "type")]
    pub artifact_type: Option<String>,
    /// Id shared by every writer of the draft (default: from the job's environment, see
    /// `cairn whoami`).
    #[arg(long)]
    pub distributed_id: Option<String>,
    /// This writer's id (default: from the job's environment, see `cairn whoami`; never
    /// the host name: without one the command refuses).
    #[arg(long)]
    pub writer: Option<String>,
    /// Declare this writer done.
    #[arg(long)]
    pub seal: bool,
    /// Number of writers finish waits for.
    #[arg(long)]
    pub expected_writers: Option<u32>,
    /// Seconds of inactivity before the open draft expires (default 24 h).
    #[arg(long, default_value_t = 0)]
    pub ttl: u64,
    /// Let a later writer replace another writer's entry instead of failing (first upsert only).
    #[arg(long)]
    pub last_writer_wins: bool,
    /// Upload files that `.cairnignore` files would leave out (`.git`, `.cairn` and the
    /// client's cache are left out all the same).
    #[arg(long)]
    pub no_ignore: bool,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct FinishArgs {
    /// Artifact name.
    #[arg(long)]
    pub name: String,
    /// The draft's id (default: from the job's environment, see `cairn whoami`).
    #[arg(long)]
    pub distributed_id: Option<String>,
    /// Alias to point at the version (repeatable).
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// Wait up to SECS for writers to seal.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u32,
    /// Commit what every writer staged, sealed or not.
    #[arg(long)]
    pub force: bool,
    /// Number of writers that must have sealed.
    #[arg(long)]
    pub expected_writers: Option<u32>,
    /// Version metadata as a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Time to live of the new version (`90s`, `15m`, `12h`, `30d`, `2w`, or seconds): then
    /// the garbage collector deletes it, unless a user alias names it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<u64>,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct DraftArgs {
    /// Artifact name.
    #[arg(long)]
    pub name: String,
    /// The draft's id (default: from the job's environment, see `cairn whoami`).
    #[arg(long)]
    pub distributed_id: Option<String>,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The version to start from.
    pub reference: String,
    /// SRC or SRC=DEST to add or replace (repeatable); a directory SRC adds its files under DEST/.
    #[arg(long = "add", value_name = "SRC[=DEST]")]
    pub adds: Vec<String>,
    /// Entry path to remove (repeatable); it must exist in REF.
    #[arg(long = "remove", value_name = "PATH")]
    pub removes: Vec<String>,
    /// Alias to point at the new version (repeatable).
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// Version metadata as a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Producer id (default: CAIRN_WRITER, else the host name).
    #[arg(long)]
    pub writer: Option<String>,
    /// Time to live of the new version (`90s`, `15m`, `12h`, `30d`, `2w`, or seconds): then
    /// the garbage collector deletes it, unless a user alias names it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<u64>,
    /// Upload files that `.cairnignore` files would leave out (`.git`, `.cairn` and the
    /// client's cache are left out all the same).
    #[arg(long)]
    pub no_ignore: bool,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The version to download.
    pub reference: String,
    /// Target directory (default ./<artifact name>).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Download only this file (written at its path under the target directory).
    #[arg(long, conflicts_with = "prefix")]
    pub path: Option<String>,
    /// Download only the files under this directory of the version (`DIR/`).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Local content cache: blobs are taken from it when their hash verifies, and kept there.
    #[arg(long, env = "CAIRN_CONTENT_CACHE")]
    pub cache: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// Artifact name.
    pub name: String,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct RefArgs {
    /// The version.
    pub reference: String,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The version to delete (a bare name means its latest version), or with --all the
    /// artifact name.
    pub reference: String,
    /// Delete every version of the artifact NAME.
    #[arg(long)]
    pub all: bool,
    /// Also delete the user aliases that name the deleted versions (without it, such a
    /// version is refused).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    /// The version.
    pub reference: String,
    /// The file's path in the version.
    pub path: String,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Artifact name.
    pub name: String,
    /// Keep only the newest N versions (versions a user alias names are always kept); 0
    /// clears the policy.
    #[arg(long, value_name = "N")]
    pub keep_last: u64,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Report what would be freed; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only objects older than SECS may be deleted (default: the server's grace period).
    #[arg(long, value_name = "SECS")]
    pub grace: Option<u64>,
    /// Also empty the collector's trash, whatever its age (else only what is older than
    /// the server's --gc-trash-retention goes).
    #[arg(long)]
    pub purge_trash: bool,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Also read every blob and manifest and check that it hashes to its digest.
    #[arg(long)]
    pub deep: bool,
    /// Restore what is missing (or, with --deep, corrupt) from the collector's trash.
    #[arg(long)]
    pub repair: bool,
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub client: ClientOptions,
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Point ALIAS at the version REF names.
    Set {
        /// The version.
        reference: String,
        /// The alias.
        alias: String,
        #[command(flatten)]
        client: ClientOptions,
    },
    /// Remove ALIAS from artifact NAME.
    Delete {
        /// Artifact name.
        name: String,
        /// The alias.
        alias: String,
        #[command(flatten)]
        client: ClientOptions,
    },
}

/// A duration on the command line (`90`, `15m`, `30d`): cairn-core's one parser.
fn parse_duration(text: &str) -> Result<u64, String> {
    cairn_core::parse_duration_secs(text)
}

#[cfg(test)]
mod tests {
    /// Every command's flags are consistent (unique names, valid defaults): clap checks
    /// this only when a command is parsed, so a clash would otherwise surface at run time.
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

/// A byte count: digits with an optional unit (`B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`,
/// `TB`/`TiB`; decimal units are powers of 1000).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits.parse().map_err(|_| format!("{text:?} is not a size like 500GiB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        other => return Err(format!("unknown size unit {other:?} (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_take_decimal_and_binary_units_and_refuse_the_rest() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("500GiB"), Ok(500 << 30));
        assert_eq!(parse_size("2TB"), Ok(2_000_000_000_000));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("1.5GiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }
}
