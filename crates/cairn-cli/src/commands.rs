//! Client commands: parse arguments into `cairn-client` calls and print the results.

use std::process::ExitCode;

use cairn_client::{
    Client, ClientError, EditRequest, FinishRequest, LogRequest, Selection, UpsertRequest, default_writer, parse_add,
};

use crate::args::{AliasCommand, ClientOptions, Command, QuotaCommand, TokenCommand};
use crate::output::{self, Printer};

/// Runs one client command and maps its outcome to an exit code.
pub async fn run(command: Command) -> ExitCode {
    let json = options(&command).is_some_and(|o| o.json);
    match dispatch(command).await {
        Ok(printed) => {
            let failure = printed.failure();
            output::emit(printed, json);
            match failure {
                // The command answered, and its answer is a failure (fsck found damage).
                Some(why) => {
                    eprintln!("error: {why}");
                    ExitCode::from(1)
                }
                None => ExitCode::SUCCESS,
            }
        }
        Err(err) => {
            let one_line = err.to_string().replace('\n', " ");
            eprintln!("error: {one_line}");
            match err {
                ClientError::Usage(_) | ClientError::Invalid(_) => ExitCode::from(2),
                _ => ExitCode::from(1),
            }
        }
    }
}

fn options(command: &Command) -> Option<&ClientOptions> {
    Some(match command {
        Command::Dev(_) | Command::Bench(_) | Command::Coordinator(_) | Command::Worker(_) => return None,
        Command::Log(a) => &a.client,
        Command::Upsert(a) => &a.client,
        Command::Finish(a) => &a.client,
        Command::Abort(a) | Command::Draft(a) => &a.client,
        Command::Edit(a) => &a.client,
        Command::Get(a) => &a.client,
        Command::Versions(a) => &a.client,
        Command::Manifest(a) => &a.client,
        Command::Alias(AliasCommand::Set { client, .. } | AliasCommand::Delete { client, .. }) => client,
        Command::Ls(a) => &a.client,
        Command::Delete(a) => &a.client,
        Command::Gc(a) => &a.client,
        Command::Fsck(a) => &a.client,
        Command::Retention(a) => &a.client,
        Command::Cat(a) => &a.client,
        Command::Whoami(a) => &a.client,
        Command::Token(TokenCommand::Create(a)) => &a.client,
        Command::Token(TokenCommand::List(a)) => &a.client,
        Command::Token(TokenCommand::Revoke(a)) => &a.client,
        Command::Quota(QuotaCommand::Show(a) | QuotaCommand::Reset(a)) => &a.client,
        Command::Quota(QuotaCommand::Set(a)) => &a.client,
    })
}

async fn connect(options: &ClientOptions) -> Result<Client, ClientError> {
    let credentials = cairn_client::Credentials::from_env()?.with_token(options.token.clone());
    let client = Client::connect_with(&options.server, &options.project, credentials).await?;
    Ok(match crate::progress::Bars::for_terminal(options.json) {
        Some(bars) => client.with_progress(bars),
        None => client,
    })
}

/// Paths uploaded under their own names.
fn unnamed(paths: Vec<std::path::PathBuf>) -> Vec<(std::path::PathBuf, Option<String>)> {
    paths.into_iter().map(|p| (p, None)).collect()
}

/// The client, with `.cairnignore` files turned off by `--no-ignore`.
fn walking(client: Client, no_ignore: bool) -> Client {
    if no_ignore { client.without_ignore_files() } else { client }
}

async fn dispatch(command: Command) -> Result<Printer, ClientError> {
    Ok(match command {
        Command::Dev(_) | Command::Bench(_) | Command::Coordinator(_) | Command::Worker(_) => {
            unreachable!("server commands are not client commands")
        }
        Command::Log(a) => {
            let client = walking(connect(&a.client).await?, a.no_ignore);
            let request = LogRequest {
                name: a.name,
                artifact_type: a.artifact_type,
                sources: unnamed(a.paths),
                aliases: a.aliases,
                metadata_json: a.metadata.unwrap_or_default(),
                writer: a.writer.unwrap_or_else(default_writer),
                ttl_seconds: a.ttl,
            };
            Printer::commit(client.log(request).await?)
        }
        Command::Upsert(a) => {
            let client = walking(connect(&a.client).await?, a.no_ignore);
            let request = UpsertRequest {
                name: a.name,
                artifact_type: a.artifact_type,
                distributed_id: resolve_distributed_id(a.distributed_id)?,
                writer: resolve_writer(a.writer)?,
                sources: unnamed(a.paths),
                seal: a.seal,
                expected_writers: a.expected_writers,
                ttl_seconds: a.ttl,
                last_writer_wins: a.last_writer_wins,
            };
            Printer::draft(client.upsert(request).await?)
        }
        Command::Finish(a) => {
            let client = connect(&a.client).await?;
            let request = FinishRequest {
                name: a.name,
                distributed_id: resolve_distributed_id(a.distributed_id)?,
                aliases: a.aliases,
                wait_seconds: a.wait,
                force: a.force,
                expected_writers: a.expected_writers,
                metadata_json: a.metadata.unwrap_or_default(),
                ttl_seconds: a.ttl,
            };
            Printer::commit(client.finish(request).await?)
        }
        Command::Abort(a) => {
            let id = resolve_distributed_id(a.distributed_id)?;
            Printer::draft(connect(&a.client).await?.abort(&a.name, &id).await?)
        }
        Command::Draft(a) => {
            let id = resolve_distributed_id(a.distributed_id)?;
            Printer::draft(connect(&a.client).await?.draft(&a.name, &id).await?)
        }
        Command::Edit(a) => {
            let client = walking(connect(&a.client).await?, a.no_ignore);
            let request = EditRequest {
                reference: a.reference,
                adds: a.adds.iter().map(|spec| parse_add(spec)).collect(),
                removes: a.removes,
                aliases: a.aliases,
                metadata_json: a.metadata.unwrap_or_default(),
                writer: a.writer.unwrap_or_else(default_writer),
                ttl_seconds: a.ttl,
            };
            Printer::commit(client.edit(request).await?)
        }
        Command::Get(a) => {
            let client = connect(&a.client).await?;
            let client = match a.cache {
                Some(dir) => client.with_content_cache(dir),
                None => client,
            };
            let selection = match (a.path, a.prefix) {
                (Some(path), _) => Selection::Path(path),
                (None, Some(prefix)) => Selection::Prefix(prefix),
                (None, None) => Selection::All,
            };
            Printer::get(client.get_selected(&a.reference, a.output, selection).await?)
        }
        Command::Versions(a) => Printer::versions(connect(&a.client).await?.versions(&a.name).await?),
        Command::Manifest(a) => {
            let (version, entries) = connect(&a.client).await?.manifest(&a.reference).await?;
            Printer::manifest(version, entries)
        }
        Command::Alias(AliasCommand::Set { reference, alias, client }) => {
            let version = connect(&client).await?.set_alias(&reference, &alias).await?;
            Printer::alias(version, alias)
        }
        Command::Alias(AliasCommand::Delete { name, alias, client }) => {
            let previous = connect(&client).await?.delete_alias(&name, &alias).await?;
            Printer::alias_deleted(name, alias, previous)
        }
        Command::Ls(a) => Printer::artifacts(connect(&a.client).await?.list_artifacts().await?),
        Command::Delete(a) => {
            let client = connect(&a.client).await?;
            let summary = if a.all {
                if a.reference.contains([':', '@', '/']) {
                    return Err(ClientError::Usage(format!(
                        "--all takes an artifact name, not the reference {:?}",
                        a.reference
                    )));
                }
                client.delete_artifact(&a.reference, a.force).await?
            } else {
                client.delete_version(&a.reference, a.force).await?
            };
            Printer::deleted(summary)
        }
        Command::Gc(a) => {
            Printer::gc(connect(&a.client).await?.collect_garbage(a.dry_run, a.grace, a.purge_trash).await?)
        }
        Command::Fsck(a) => Printer::fsck(connect(&a.client).await?.fsck(a.deep, a.repair).await?),
        Command::Whoami(a) => {
            // The server's view of the token, when a server answers; the rest is local.
            let identity = match connect(&a.client).await {
                Ok(client) => client.who_am_i().await.map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            };
            Printer::whoami(&a.client, &cairn_client::job_identity(), identity)
        }
        Command::Token(TokenCommand::Create(a)) => {
            let project = if a.all_projects { cairn_auth::ALL_PROJECTS } else { a.client.project.as_str() };
            Printer::token_created(connect(&a.client).await?.create_token(project, &a.role, a.expires_in).await?)
        }
        Command::Token(TokenCommand::List(a)) => {
            let client = connect(&a.client).await?;
            let project = (!a.all_projects).then_some(a.client.project.as_str());
            Printer::tokens(client.list_tokens(project).await?)
        }
        Command::Token(TokenCommand::Revoke(a)) => {
            Printer::tokens(vec![connect(&a.client).await?.revoke_token(&a.id).await?])
        }
        Command::Quota(QuotaCommand::Show(a)) => Printer::quota(connect(&a.client).await?.quota().await?),
        Command::Quota(QuotaCommand::Set(a)) => {
            let limit = |value: u64| (value > 0).then_some(value);
            let limits = (limit(a.max_bytes), limit(a.max_open_drafts));
            Printer::quota(connect(&a.client).await?.set_quota(Some(limits)).await?)
        }
        Command::Quota(QuotaCommand::Reset(a)) => Printer::quota(connect(&a.client).await?.set_quota(None).await?),
        Command::Cat(a) => {
            let client = connect(&a.client).await?;
            client.cat(&a.reference, &a.path, &mut std::io::stdout()).await?;
            Printer::nothing()
        }
        Command::Retention(a) => {
            let keep_last = connect(&a.client).await?.set_retention(&a.name, a.keep_last).await?;
            Printer::retention(&a.name, keep_last)
        }
    })
}

/// `--distributed-id`, else the job environment's; refuses (a usage error) naming what to set.
fn resolve_distributed_id(given: Option<String>) -> Result<String, ClientError> {
    match given {
        Some(id) => Ok(id),
        None => cairn_client::job_identity()
            .distributed_id
            .map(|id| id.value)
            .map_err(|why| ClientError::Usage(format!("no --distributed-id given and {why}"))),
    }
}

/// `--writer`, else the job environment's; never the host name: refuses naming what to set.
fn resolve_writer(given: Option<String>) -> Result<String, ClientError> {
    match given {
        Some(writer) => Ok(writer),
        None => cairn_client::job_identity()
            .writer
            .map(|w| w.value)
            .map_err(|why| ClientError::Usage(format!("no --writer given and {why}"))),
    }
}
