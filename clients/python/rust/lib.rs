//! `cairn._core`: the Rust client under the Python SDK. Everything that walks, hashes,
//! uploads, downloads, verifies, retries or fails over is cairn-client's code, the same
//! as the CLI's; the Python layer (`src/cairn`) only shapes arguments and results.
//!
//! Results cross as plain Python values (dicts, lists, tuples) converted from the client's
//! serde types, so the Python side never parses protocol messages.

mod errors;
mod progress;
mod runtime;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cairn_client::{Client, Credentials, EditRequest, FinishRequest, LogRequest, Selection, UpsertRequest, WalkRules};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::to_py;
use crate::runtime::block_on;

/// A file or directory to upload, and the entry path (or prefix) it gets.
type Source = (PathBuf, Option<String>);

/// A manifest entry as Python gets it: (path, sha256, size).
type EntryTuple = (String, String, u64);

/// A connection to cairn for one process: made on first use, and made again in a child
/// process after `fork`.
#[pyclass(module = "cairn._core", frozen)]
struct Core {
    server: String,
    project: String,
    stat_cache: bool,
    ignore_files: bool,
    progress: Option<Py<PyAny>>,
    /// The API token; None: `CAIRN_TOKEN`, if set.
    token: Option<String>,
    client: Mutex<Option<(u32, Client)>>,
}

impl Core {
    fn client(&self, py: Python<'_>) -> PyResult<Client> {
        let pid = std::process::id();
        if let Some((owner, client)) = self.client.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *owner == pid
        {
            return Ok(client.clone());
        }
        let (server, project) = (self.server.clone(), self.project.clone());
        // TLS material (CAIRN_CA_CERT, CAIRN_CLIENT_CERT/KEY) comes from the environment.
        let credentials = Credentials::from_env().map_err(to_py)?.with_token(self.token.clone());
        let mut client =
            block_on(py, || async move { Client::connect_with(&server, &project, credentials).await.map_err(to_py) })?;
        if !self.stat_cache {
            client = client.without_stat_cache();
        }
        if !self.ignore_files {
            client = client.without_ignore_files();
        }
        if let Some(callback) = &self.progress {
            client = client.with_progress(Arc::new(progress::PyProgress::new(callback.clone_ref(py))));
        }
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = Some((pid, client.clone()));
        Ok(client)
    }

    /// Runs one client operation without the GIL and converts its result.
    fn run<T, F, Fut>(&self, py: Python<'_>, operation: F) -> PyResult<Py<PyAny>>
    where
        T: serde::Serialize + Send,
        F: FnOnce(Client) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, cairn_client::ClientError>>,
    {
        let client = self.client(py)?;
        let result = block_on(py, move || async move { operation(client).await.map_err(to_py) })?;
        to_python(py, &result)
    }
}

#[pymethods]
impl Core {
    #[new]
    #[pyo3(signature = (server, project, progress=None, stat_cache=true, ignore_files=true, token=None))]
    fn new(
        server: String,
        project: String,
        progress: Option<Py<PyAny>>,
        stat_cache: bool,
        ignore_files: bool,
        token: Option<String>,
    ) -> Self {
        Self { server, project, stat_cache, ignore_files, progress, token, client: Mutex::new(None) }
    }

    /// Who the server takes this client for (`{token_id, project, role}`), or None when
    /// it needs no token.
    fn who_am_i(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.who_am_i().await })
    }

    /// The project's usage and limits (`cairn quota show --json`'s keys).
    fn quota(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.quota().await })
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, artifact_type, sources, aliases, metadata_json, writer, ttl_seconds=None))]
    fn log(
        &self,
        py: Python<'_>,
        name: String,
        artifact_type: String,
        sources: Vec<Source>,
        aliases: Vec<String>,
        metadata_json: String,
        writer: String,
        ttl_seconds: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        let request = LogRequest { name, artifact_type, sources, aliases, metadata_json, writer, ttl_seconds };
        self.run(py, move |c| async move { c.log(request).await })
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, artifact_type, distributed_id, writer, sources, seal, expected_writers=None, ttl_seconds=0, last_writer_wins=false))]
    fn upsert(
        &self,
        py: Python<'_>,
        name: String,
        artifact_type: Option<String>,
        distributed_id: String,
        writer: String,
        sources: Vec<Source>,
        seal: bool,
        expected_writers: Option<u32>,
        ttl_seconds: u64,
        last_writer_wins: bool,
    ) -> PyResult<Py<PyAny>> {
        let request = UpsertRequest {
            name,
            artifact_type,
            distributed_id,
            writer,
            sources,
            seal,
            expected_writers,
            ttl_seconds,
            last_writer_wins,
        };
        self.run(py, move |c| async move { c.upsert(request).await })
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, distributed_id, aliases, wait_seconds=0, force=false, expected_writers=None, metadata_json=String::new(), ttl_seconds=None))]
    fn finish(
        &self,
        py: Python<'_>,
        name: String,
        distributed_id: String,
        aliases: Vec<String>,
        wait_seconds: u32,
        force: bool,
        expected_writers: Option<u32>,
        metadata_json: String,
        ttl_seconds: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        let request = FinishRequest {
            name,
            distributed_id,
            aliases,
            wait_seconds,
            force,
            expected_writers,
            metadata_json,
            ttl_seconds,
        };
        self.run(py, move |c| async move { c.finish(request).await })
    }

    fn abort(&self, py: Python<'_>, name: String, distributed_id: String) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.abort(&name, &distributed_id).await })
    }

    fn draft(&self, py: Python<'_>, name: String, distributed_id: String) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.draft(&name, &distributed_id).await })
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (reference, adds, removes, aliases, metadata_json, writer, ttl_seconds=None))]
    fn edit(
        &self,
        py: Python<'_>,
        reference: String,
        adds: Vec<Source>,
        removes: Vec<String>,
        aliases: Vec<String>,
        metadata_json: String,
        writer: String,
        ttl_seconds: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        let request = EditRequest { reference, adds, removes, aliases, metadata_json, writer, ttl_seconds };
        self.run(py, move |c| async move { c.edit(request).await })
    }

    fn get_version(&self, py: Python<'_>, reference: String) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.get_version(&reference).await })
    }

    fn versions(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.versions(&name).await })
    }

    fn artifacts(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.list_artifacts().await })
    }

    /// (version, [(path, sha256, size), …]); the entries verified against the version digest.
    fn manifest(&self, py: Python<'_>, reference: String) -> PyResult<(Py<PyAny>, Vec<EntryTuple>)> {
        let client = self.client(py)?;
        let (version, entries) = block_on(py, move || async move { client.manifest(&reference).await.map_err(to_py) })?;
        let entries = entries.into_iter().map(|e| (e.path, e.sha256, e.size)).collect();
        Ok((to_python(py, &version)?, entries))
    }

    /// Downloads a version (or the file `path`, or the directory `prefix`) into `dir`.
    #[pyo3(signature = (reference, dir, path=None, prefix=None))]
    fn download(
        &self,
        py: Python<'_>,
        reference: String,
        dir: PathBuf,
        path: Option<String>,
        prefix: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let selection = match (path, prefix) {
            (Some(_), Some(_)) => return Err(PyValueError::new_err("give a path or a prefix, not both")),
            (Some(path), None) => Selection::Path(path),
            (None, Some(prefix)) => Selection::Prefix(prefix),
            (None, None) => Selection::All,
        };
        self.run(py, move |c| async move { c.get_selected(&reference, Some(dir), selection).await })
    }

    fn verify_dir(&self, py: Python<'_>, reference: String, dir: PathBuf) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.verify_dir(&reference, &dir).await })
    }

    fn checkout(&self, py: Python<'_>, reference: String, dir: PathBuf) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.checkout(&reference, &dir).await })
    }

    fn update_version(&self, py: Python<'_>, reference: String, metadata_json: String) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.update_version(&reference, &metadata_json).await })
    }

    fn set_alias(&self, py: Python<'_>, reference: String, alias: String) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.set_alias(&reference, &alias).await })
    }

    fn delete_alias(&self, py: Python<'_>, name: String, alias: String) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.delete_alias(&name, &alias).await })
    }

    fn delete_version(&self, py: Python<'_>, reference: String, force: bool) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.delete_version(&reference, force).await })
    }

    fn delete_artifact(&self, py: Python<'_>, name: String, force: bool) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.delete_artifact(&name, force).await })
    }

    fn set_retention(&self, py: Python<'_>, name: String, keep_last: u64) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.set_retention(&name, keep_last).await })
    }

    #[pyo3(signature = (dry_run, grace_seconds=None, purge_trash=false))]
    fn collect_garbage(
        &self,
        py: Python<'_>,
        dry_run: bool,
        grace_seconds: Option<u64>,
        purge_trash: bool,
    ) -> PyResult<Py<PyAny>> {
        self.run(py, move |c| async move { c.collect_garbage(dry_run, grace_seconds, purge_trash).await })
    }
}

/// The job identity the environment gives (or `env`, when given), as the CLI's `whoami`
/// reads it: for `distributed_id` and `writer`, `{"value": …, "source": …}` or `{"error": …}`.
#[pyfunction]
#[pyo3(signature = (env=None))]
fn job_identity(py: Python<'_>, env: Option<std::collections::HashMap<String, String>>) -> PyResult<Py<PyAny>> {
    let identity = match env {
        Some(env) => cairn_client::job_identity_from(&|name| env.get(name).cloned()),
        None => cairn_client::job_identity(),
    };
    let part = |found: Result<cairn_client::Sourced, String>| match found {
        Ok(sourced) => serde_json::json!({"value": sourced.value, "source": sourced.source}),
        Err(error) => serde_json::json!({"error": error}),
    };
    let value = serde_json::json!({
        "distributed_id": part(identity.distributed_id),
        "writer": part(identity.writer),
    });
    to_python(py, &value)
}

/// The files `sources` stand for, as the CLI walks them (`.cairnignore`, symbolic links
/// followed, `.git` and `.cairn` left out): `[(entry path, local path), …]`, sorted.
#[pyfunction]
#[pyo3(signature = (sources, ignore_files=true))]
fn collect(py: Python<'_>, sources: Vec<Source>, ignore_files: bool) -> PyResult<Vec<(String, PathBuf)>> {
    let rules = WalkRules { ignore_files, ..WalkRules::default() };
    let files = py.detach(move || cairn_client::collect(&sources, &rules)).map_err(to_py)?;
    Ok(files.into_iter().map(|f| (f.path.as_str().to_owned(), f.source)).collect())
}

/// Checks an entry path as the server would; raises InvalidArgument when it is not one.
#[pyfunction]
fn check_entry_path(path: &str) -> PyResult<()> {
    cairn_core::EntryPath::parse(path).map(|_| ()).map_err(|e| to_py(e.into()))
}

/// A serde value as plain Python objects.
fn to_python(py: Python<'_>, value: &impl serde::Serialize) -> PyResult<Py<PyAny>> {
    let value = serde_json::to_value(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    json_to_python(py, &value)
}

fn json_to_python(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any().unbind(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any().unbind(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any().unbind(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_python(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (key, item) in fields {
                dict.set_item(key, json_to_python(py, item)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

#[pymodule]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    // `CAIRN_LOG=debug` shows the client's retries, failovers and resumes on stderr, as
    // it does for the CLI.
    if let Ok(filter) = std::env::var("CAIRN_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
    module.add_class::<Core>()?;
    module.add_function(wrap_pyfunction!(job_identity, module)?)?;
    module.add_function(wrap_pyfunction!(collect, module)?)?;
    module.add_function(wrap_pyfunction!(check_entry_path, module)?)?;
    Ok(())
}
