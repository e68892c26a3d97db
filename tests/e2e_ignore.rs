//! Ignore rules through the CLI: `cairn log .` in the directory where `cairn dev` keeps its
//! data uploads neither the server's `.cairn` directory, nor `.git`, nor the client's cache,
//! and honours `.cairnignore` unless given `--no-ignore`.

mod support;

use support::{DevServer, write_tree};

fn manifest_paths(server: &DevServer, cwd: &std::path::Path, reference: &str) -> Vec<String> {
    let manifest = server.cli(cwd, &["manifest", reference, "--json"]).json();
    let mut paths: Vec<String> =
        manifest["entries"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap().to_owned()).collect();
    paths.sort();
    paths
}

#[test]
fn logging_the_servers_own_directory_leaves_out_its_data_git_the_cache_and_ignored_files() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    // The server keeps its data in ./.cairn, as `cairn dev` does by default.
    let server = DevServer::start_on(project.join(".cairn"), 0);
    write_tree(
        &project,
        &[
            ("train.py", b"print('train')"),
            ("data/shard-0.bin", &[7u8; 4096]),
            ("__pycache__/train.cpython-311.pyc", b"bytecode"),
            ("runs/debug.log", b"noise"),
            (".git/HEAD", b"ref: refs/heads/main"),
            (".cairnignore", b"__pycache__/\n*.log\n"),
        ],
    );

    let logged = server.cli(&project, &["log", ".", "--name", "proj", "--type", "code", "--json"]).json();
    assert_eq!(logged["files"], 2, "{logged}");
    assert_eq!(manifest_paths(&server, &project, "proj:v0"), ["data/shard-0.bin", "train.py"]);
    assert!(project.join(".cairn-cache").exists(), "the client cache lies in the tree, and was left out");

    let everything =
        server.cli(&project, &["log", ".", "--name", "proj", "--type", "code", "--no-ignore", "--json"]).json();
    assert_eq!(everything["version"], "v1");
    assert_eq!(
        manifest_paths(&server, &project, "proj:v1"),
        [".cairnignore", "__pycache__/train.cpython-311.pyc", "data/shard-0.bin", "runs/debug.log", "train.py"],
        "--no-ignore turns the ignore file off, but never uploads .git, .cairn or the cache"
    );
}
