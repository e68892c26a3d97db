//! Who this process is within a distributed job: the `distributed_id` its ranks share and
//! its own `writer` id, read from the job's environment. One rule set for every client
//! (the CLI, and the Python SDK through its native core). The first rule that applies wins, and
//! nothing is ever guessed: when no rule applies, the caller refuses and names the
//! variables to set.
//!
//! 1. `CAIRN_DISTRIBUTED_ID` / `CAIRN_WRITER`;
//! 2. a JobSet: `JOBSET_UID` or `JOBSET_NAME` (+ `JOBSET_RESTART_ATTEMPT`), writer from
//!    `JOB_INDEX` and `JOB_COMPLETION_INDEX`;
//! 3. an Indexed Job: `JOB_UID` or `JOB_NAME` with `JOB_COMPLETION_INDEX`;
//! 4. torchrun: `TORCHELASTIC_RUN_ID` (not its default `none`) with `RANK`;
//! 5. a Kubeflow PyTorchJob: `MASTER_ADDR=<job>-master-0` with `RANK` and `WORLD_SIZE`;
//! 6. SLURM: `SLURM_JOB_ID` (+ `SLURM_STEP_ID`) with `SLURM_PROCID`;
//! 7. MPI (a Kubeflow MPIJob included): `OMPI_COMM_WORLD_RANK` or `PMI_RANK` for the
//!    writer; the job id must come from a rule above or `CAIRN_DISTRIBUTED_ID` (MPI
//!    launchers export none that is portable; an MPIJob can expose its name through the
//!    Downward API).

/// A value and the environment variable(s) it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sourced {
    pub value: String,
    pub source: String,
}

fn sourced(value: String, source: &str) -> Sourced {
    Sourced { value, source: source.to_owned() }
}

/// What the environment says about this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobIdentity {
    pub distributed_id: Result<Sourced, String>,
    pub writer: Result<Sourced, String>,
}

/// Reads the identity from the process environment.
pub fn job_identity() -> JobIdentity {
    job_identity_from(&|name| std::env::var(name).ok())
}

/// Reads the identity through `get` (a variable's value, if set).
pub fn job_identity_from(get: &dyn Fn(&str) -> Option<String>) -> JobIdentity {
    let var = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    JobIdentity { distributed_id: distributed_id(&var), writer: writer(&var) }
}

fn distributed_id(var: &dyn Fn(&str) -> Option<String>) -> Result<Sourced, String> {
    if let Some(id) = var("CAIRN_DISTRIBUTED_ID") {
        return Ok(sourced(id, "CAIRN_DISTRIBUTED_ID"));
    }
    if let Some((jobset, name)) =
        var("JOBSET_UID").map(|v| (v, "JOBSET_UID")).or(var("JOBSET_NAME").map(|v| (v, "JOBSET_NAME")))
    {
        let attempt = var("JOBSET_RESTART_ATTEMPT").unwrap_or_else(|| "0".to_owned());
        return Ok(sourced(format!("jobset-{jobset}-attempt-{attempt}"), &format!("{name}, JOBSET_RESTART_ATTEMPT")));
    }
    if var("JOB_COMPLETION_INDEX").is_some()
        && let Some((job, name)) = var("JOB_UID").map(|v| (v, "JOB_UID")).or(var("JOB_NAME").map(|v| (v, "JOB_NAME")))
    {
        return Ok(sourced(format!("job-{job}"), name));
    }
    match var("TORCHELASTIC_RUN_ID") {
        Some(run) if run != "none" && var("RANK").is_some() => {
            return Ok(sourced(format!("torchelastic-{run}"), "TORCHELASTIC_RUN_ID"));
        }
        Some(_) if var("RANK").is_some() => {
            return Err(
                "torchrun was started without --rdzv-id (its run id is the default `none`, the same for every \
                        job): pass --rdzv-id, or set CAIRN_DISTRIBUTED_ID"
                    .to_owned(),
            );
        }
        _ => {}
    }
    if let Some(job) = pytorchjob_name(var) {
        return Ok(sourced(format!("pytorchjob-{job}"), "MASTER_ADDR"));
    }
    if let Some(job) = var("SLURM_JOB_ID") {
        return Ok(match var("SLURM_STEP_ID") {
            Some(step) => sourced(format!("slurm-{job}-step-{step}"), "SLURM_JOB_ID, SLURM_STEP_ID"),
            None => sourced(format!("slurm-{job}"), "SLURM_JOB_ID"),
        });
    }
    Err("nothing in the environment identifies the job: set CAIRN_DISTRIBUTED_ID (or run as a JobSet or Indexed \
         Job with the Downward API variables of deploy/examples/, under torchrun with --rdzv-id, or under SLURM)"
        .to_owned())
}

/// The job's name under a Kubeflow PyTorchJob: the training operator gives every pod
/// `RANK`, `WORLD_SIZE` and `MASTER_ADDR=<job name>-master-0` (the master's Service).
/// The name is the job's id, so a job re-created under the same name needs its own
/// `CAIRN_DISTRIBUTED_ID`.
fn pytorchjob_name(var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if var("RANK").is_none() || var("WORLD_SIZE").is_none() {
        return None;
    }
    var("MASTER_ADDR")?.split('.').next()?.strip_suffix("-master-0").filter(|name| !name.is_empty()).map(str::to_owned)
}

fn writer(var: &dyn Fn(&str) -> Option<String>) -> Result<Sourced, String> {
    if let Some(writer) = var("CAIRN_WRITER") {
        return Ok(sourced(writer, "CAIRN_WRITER"));
    }
    let index = var("JOB_COMPLETION_INDEX");
    if (var("JOBSET_UID").is_some() || var("JOBSET_NAME").is_some())
        && let (Some(job), Some(index)) = (var("JOB_INDEX"), index.clone())
    {
        return Ok(sourced(format!("job-{job}-rank-{index}"), "JOB_INDEX, JOB_COMPLETION_INDEX"));
    }
    if (var("JOB_UID").is_some() || var("JOB_NAME").is_some())
        && let Some(index) = index
    {
        return Ok(sourced(format!("rank-{index}"), "JOB_COMPLETION_INDEX"));
    }
    if var("TORCHELASTIC_RUN_ID").is_some()
        && let Some(rank) = var("RANK")
    {
        return Ok(sourced(format!("rank-{rank}"), "RANK"));
    }
    if pytorchjob_name(var).is_some()
        && let Some(rank) = var("RANK")
    {
        return Ok(sourced(format!("rank-{rank}"), "RANK"));
    }
    if let Some(rank) = var("SLURM_PROCID") {
        return Ok(sourced(format!("rank-{rank}"), "SLURM_PROCID"));
    }
    for name in ["OMPI_COMM_WORLD_RANK", "PMI_RANK"] {
        if let Some(rank) = var(name) {
            return Ok(sourced(format!("rank-{rank}"), name));
        }
    }
    Err("nothing in the environment identifies this writer: set CAIRN_WRITER or pass --writer (or run as a JobSet \
         or Indexed Job, under torchrun, SLURM or MPI)"
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(vars: &[(&str, &str)]) -> JobIdentity {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        job_identity_from(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    fn values(id: &JobIdentity) -> (Option<&str>, Option<&str>) {
        (id.distributed_id.as_ref().ok().map(|s| s.value.as_str()), id.writer.as_ref().ok().map(|s| s.value.as_str()))
    }

    /// An environment and the (distributed_id, writer) it must give.
    type Case<'a> = (&'a [(&'a str, &'a str)], (Option<&'a str>, Option<&'a str>));

    #[test]
    fn each_launcher_gives_its_job_id_and_rank() {
        let table: &[Case] = &[
            (&[("CAIRN_DISTRIBUTED_ID", "run-7"), ("CAIRN_WRITER", "w1"), ("RANK", "3")], (Some("run-7"), Some("w1"))),
            (
                &[
                    ("JOBSET_NAME", "train"),
                    ("JOBSET_RESTART_ATTEMPT", "2"),
                    ("JOB_INDEX", "1"),
                    ("JOB_COMPLETION_INDEX", "4"),
                ],
                (Some("jobset-train-attempt-2"), Some("job-1-rank-4")),
            ),
            (&[("JOB_UID", "abc-123"), ("JOB_COMPLETION_INDEX", "0")], (Some("job-abc-123"), Some("rank-0"))),
            (&[("TORCHELASTIC_RUN_ID", "exp1"), ("RANK", "5")], (Some("torchelastic-exp1"), Some("rank-5"))),
            (
                &[("SLURM_JOB_ID", "991"), ("SLURM_STEP_ID", "0"), ("SLURM_PROCID", "12")],
                (Some("slurm-991-step-0"), Some("rank-12")),
            ),
            (&[("SLURM_JOB_ID", "991"), ("OMPI_COMM_WORLD_RANK", "3")], (Some("slurm-991"), Some("rank-3"))),
            (&[("CAIRN_DISTRIBUTED_ID", "x"), ("PMI_RANK", "9")], (Some("x"), Some("rank-9"))),
            (
                &[("MASTER_ADDR", "resnet-master-0"), ("MASTER_PORT", "23456"), ("WORLD_SIZE", "4"), ("RANK", "2")],
                (Some("pytorchjob-resnet"), Some("rank-2")),
            ),
            (&[("MASTER_ADDR", "10.0.0.7"), ("WORLD_SIZE", "4"), ("RANK", "2")], (None, None)),
            (&[("JOB_NAME", "no-index")], (None, None)),
            (&[("HOSTNAME", "node-3")], (None, None)),
        ];
        for (vars, expected) in table {
            assert_eq!(values(&identity(vars)), *expected, "{vars:?}");
        }
    }

    #[test]
    fn torchruns_default_run_id_is_refused_with_what_to_set_and_nothing_is_guessed() {
        let id = identity(&[("TORCHELASTIC_RUN_ID", "none"), ("RANK", "1"), ("HOSTNAME", "n1")]);
        let refusal = id.distributed_id.unwrap_err();
        assert!(refusal.contains("--rdzv-id") && refusal.contains("CAIRN_DISTRIBUTED_ID"), "{refusal}");
        let none = identity(&[]);
        assert!(none.writer.unwrap_err().contains("CAIRN_WRITER"));
        let source = identity(&[("JOB_UID", "u"), ("JOB_COMPLETION_INDEX", "2")]).writer.unwrap().source;
        assert_eq!(source, "JOB_COMPLETION_INDEX");
    }
}
