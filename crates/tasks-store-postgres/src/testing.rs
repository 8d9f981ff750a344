//! Test harness (feature `testing`): a PostgreSQL server for tests, and a fresh, prepared
//! schema per test so tests run in parallel.
//!
//! Where the server comes from, in order:
//! 1. `TASKS_POSTGRES_URL`, when set (nothing is started; each test's schema is dropped when
//!    its [`SchemaGuard`] goes);
//! 2. a throwaway cluster started from the local server binaries (`pg_config --bindir`, or
//!    `/usr/lib/postgresql/*/bin`) in a temp dir on a free port, one per test binary. As root
//!    (which `initdb` refuses), the binaries run as the `postgres` user through `runuser`;
//! 3. neither: the tests skip with a loud message, except under `CI=true`, where that is a
//!    failure (a panic).
//!
//! Cleanup of the shared cluster: a static is never dropped, so each cluster comes with a
//! watcher process (`sh`) whose stdin is a pipe held by the test process. When the test
//! process exits, however it exits, the pipe closes, and the watcher stops the cluster
//! (`pg_ctl stop -m immediate`) and removes its directory. Owned clusters
//! ([`LocalCluster::start`]) also stop when dropped.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::options::{PoolOptions, PostgresStoreOptions};
use crate::schema::prepare_schema;
use crate::store::PostgresTaskStore;

/// Server settings for test clusters: fast (no fsync: a test cluster outlives no power loss)
/// and roomy (many tests, each with its own pools).
pub const TEST_SETTINGS: &[(&str, &str)] =
    &[("fsync", "off"), ("full_page_writes", "off"), ("max_connections", "400")];

/// The server tests use.
#[derive(Debug)]
pub struct TestServer {
    url: String,
    external: bool,
    _cluster: Option<LocalCluster>,
}

impl TestServer {
    /// The connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the server came from `TASKS_POSTGRES_URL`.
    pub fn is_external(&self) -> bool {
        self.external
    }
}

static SERVER: OnceLock<Option<TestServer>> = OnceLock::new();

/// The shared server of this test binary, started on first use; `None` when there is none
/// (after a loud message), and a panic instead under `CI=true`.
pub fn server() -> Option<&'static TestServer> {
    SERVER.get_or_init(find_server).as_ref()
}

fn find_server() -> Option<TestServer> {
    if let Ok(url) = std::env::var("TASKS_POSTGRES_URL")
        && !url.trim().is_empty()
    {
        return Some(TestServer { url, external: true, _cluster: None });
    }
    match LocalCluster::start(TEST_SETTINGS) {
        Ok(cluster) => {
            Some(TestServer { url: cluster.url(), external: false, _cluster: Some(cluster) })
        }
        Err(why) => {
            let message = format!(
                "no PostgreSQL for the tests: TASKS_POSTGRES_URL is not set and no local cluster could be started ({why})"
            );
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("{message}; under CI=true this is a failure");
            }
            eprintln!(
                "\n{}\n!!! SKIPPING PostgreSQL tests: {message}\n{}\n",
                "!".repeat(78),
                "!".repeat(78)
            );
            None
        }
    }
}

/// A schema name no other test uses.
pub fn random_schema() -> String {
    format!("t_{}", ulid::Ulid::generate().to_string().to_lowercase())
}

/// Options for a fresh, prepared schema on the shared server, with small pools.
pub fn fresh_options() -> Option<PostgresStoreOptions> {
    let server = server()?;
    let options = options_for(server.url(), &random_schema());
    if let Err(err) = prepare_schema(&options) {
        panic!("preparing a test schema failed: {err}");
    }
    Some(options)
}

/// Options for `schema` on the server at `url`, with pools sized for tests.
pub fn options_for(url: &str, schema: &str) -> PostgresStoreOptions {
    let pool = PoolOptions {
        max_size: 4,
        relaxed_max_size: 2,
        min_idle: Some(0),
        ..PoolOptions::default()
    };
    match PostgresStoreOptions::from_url(url) {
        Ok(options) => options.schema(schema).pool(pool),
        Err(err) => panic!("the test server URL is not valid: {err}"),
    }
}

/// A store on a fresh schema of the shared server, and the guard that drops the schema
/// (on an external server; a throwaway cluster goes whole).
pub fn fresh_store() -> Option<(PostgresTaskStore, SchemaGuard)> {
    let options = fresh_options()?;
    let guard = SchemaGuard { url: options_url(), schema: options.schema.clone() };
    match PostgresTaskStore::connect(options) {
        Ok(store) => Some((store, guard)),
        Err(err) => panic!("connecting to a test schema failed: {err}"),
    }
}

fn options_url() -> Option<String> {
    server().filter(|server| server.is_external()).map(|server| server.url().to_owned())
}

/// Drops a test's schema when dropped (only on an external server).
#[derive(Debug)]
pub struct SchemaGuard {
    url: Option<String>,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let Some(url) = &self.url else { return };
        if let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) {
            let _ =
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema));
        }
    }
}

/// A throwaway PostgreSQL cluster in a temp dir, on a free port of 127.0.0.1, with trust
/// authentication for the `postgres` user. Stopped (immediately) when dropped, and by its
/// watcher when the process exits.
#[derive(Debug)]
pub struct LocalCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    as_postgres: bool,
    settings: Vec<(String, String)>,
    running: bool,
    /// Holding its stdin open keeps the watcher waiting; see the module docs.
    _watcher: Option<Child>,
}

impl LocalCluster {
    /// Creates and starts a cluster with these server settings (`-c name=value`).
    ///
    /// # Errors
    ///
    /// Why it could not be started (no binaries, `initdb` or `pg_ctl` failed), as text.
    pub fn start(settings: &[(&str, &str)]) -> Result<Self, String> {
        let bindir = find_bindir()?;
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("tasks-pg-")
            .tempdir()
            .map_err(|err| format!("cannot make a temp dir: {err}"))?;
        if as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(dir.path()))?;
        }
        let mut cluster = LocalCluster {
            bindir,
            port: 0,
            as_postgres,
            settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            running: false,
            _watcher: None,
            dir,
        };
        let data = cluster.data_dir();
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(&mut initdb)?;
        cluster._watcher = Some(cluster.watcher()?);
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.start_again() {
                Ok(()) => return Ok(cluster),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    /// The connection URL (user `postgres`, database `postgres`).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's main process id (the first line of `postmaster.pid`) while it runs, for
    /// tools that measure the server's CPU time (its backends are its children).
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    ///
    /// # Errors
    ///
    /// `pg_ctl`'s complaint.
    pub fn stop_immediate(&mut self) -> Result<(), String> {
        let mut stop = self.command("pg_ctl");
        stop.arg("stop").arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w"]);
        run(&mut stop)?;
        self.running = false;
        Ok(())
    }

    /// Starts the server again on the same port (after [`LocalCluster::stop_immediate`]).
    ///
    /// # Errors
    ///
    /// `pg_ctl`'s complaint, with the end of the server log.
    pub fn start_again(&mut self) -> Result<(), String> {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.dir.path().display()
        );
        for (name, value) in &self.settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let log = self.dir.path().join("server.log");
        let mut start = self.command("pg_ctl");
        start
            .arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(options);
        match run(&mut start) {
            Ok(()) => {
                self.running = true;
                Ok(())
            }
            Err(err) => {
                let mut tail = String::new();
                if let Ok(mut file) = std::fs::File::open(&log) {
                    let _ = file.read_to_string(&mut tail);
                }
                let tail: String = tail.lines().rev().take(10).collect::<Vec<_>>().join(" | ");
                Err(format!("{err}; server log (last lines, newest first): {tail}"))
            }
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command running one of the server binaries (as `postgres` when we are root).
    fn command(&self, binary: &str) -> Command {
        let path = self.bindir.join(binary);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// Starts the watcher that stops the cluster and removes its directory once our end of
    /// its stdin closes (when this process exits).
    fn watcher(&self) -> Result<Child, String> {
        let pg_ctl = self.bindir.join("pg_ctl");
        let run_as = if self.as_postgres { "runuser -u postgres -- " } else { "" };
        let script = format!(
            "cat >/dev/null; {run_as}'{}' stop -D '{}' -m immediate -w >/dev/null 2>&1; rm -rf '{}'",
            pg_ctl.display(),
            self.data_dir().display(),
            self.dir.path().display()
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start the cluster watcher: {err}"))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.stop_immediate();
        }
    }
}

/// Runs a command to completion; its output in the error when it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run {:?}: {err}", command.get_program()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{:?} {:?} failed ({}): {} {}",
        command.get_program(),
        command.get_args().collect::<Vec<_>>(),
        output.status,
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// The directory of `initdb` and `pg_ctl`.
fn find_bindir() -> Result<PathBuf, String> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_tools(&dir) {
            return Ok(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let dir = entry.path().join("bin");
            has_tools(&dir).then_some((version, dir))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, dir)| dir)
        .ok_or_else(|| "no PostgreSQL server binaries (initdb, pg_ctl) found".to_owned())
}

/// Whether this process runs as root (initdb and postgres refuse to).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("Uid:").map(|ids| ids.split_whitespace().next() == Some("0"))
            })
        })
        .unwrap_or(false)
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|err| format!("no free port: {err}"))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|err| format!("no free port: {err}"))
}

/// Waits until `url` accepts connections, up to `timeout`.
///
/// # Errors
///
/// The last connection error, as text.
pub fn wait_until_ready(url: &str, timeout: Duration) -> Result<(), String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match postgres::Client::connect(url, postgres::NoTls) {
            Ok(_) => return Ok(()),
            Err(err) if std::time::Instant::now() >= deadline => return Err(err.to_string()),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
