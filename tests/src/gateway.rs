//! Spawning the real `portcullis serve` in a temporary directory.
//!
//! [`GatewayBuilder::spawn`] writes the configuration (see `config.rs`),
//! starts the binary (see `bin.rs` for how it is found), sends its stdout and
//! stderr to files in the directory and waits until the listen port accepts
//! TCP. Ports are picked by binding `127.0.0.1:0` and releasing; the tiny race
//! that leaves is covered by retrying the start (up to 3 times) when the
//! gateway dies reporting a bind failure.
//!
//! The process is SIGKILLed when the [`Gateway`] is dropped. When the drop
//! happens during a panic (a failing test) the gateway's logs are printed to
//! stderr; set `PORTCULLIS_KEEP_TMP=1` to keep the directory as well.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::bin::portcullis_bin;
use crate::client::Http;
use crate::config::GatewayBuilder;
use crate::files::run_cli;

const START_ATTEMPTS: usize = 3;

/// A running gateway. Killed (SIGKILL) on drop.
pub struct Gateway {
    child: Child,
    binary: PathBuf,
    addr: SocketAddr,
    admin_addr: SocketAddr,
    env: Vec<(String, String)>,
    dir: Option<TempDir>,
    dir_path: PathBuf,
}

/// Why one start attempt failed.
enum StartError {
    /// The gateway could not bind a port we picked: worth another try.
    Bind(anyhow::Error),
    Other(anyhow::Error),
}

impl GatewayBuilder {
    /// Writes the configuration into a fresh temp dir and starts
    /// `portcullis serve --config <tmp>/gateway.yaml`, returning once the
    /// listen port accepts TCP. The error carries the gateway's stderr.
    pub async fn spawn(self) -> Result<Gateway> {
        let binary = tokio::task::spawn_blocking(portcullis_bin).await??;
        self.spawn_binary(binary).await
    }

    /// Like [`GatewayBuilder::spawn`] with an explicit binary (no lookup,
    /// no build).
    pub async fn spawn_binary(self, binary: impl AsRef<Path>) -> Result<Gateway> {
        let binary = binary.as_ref();
        let mut last = anyhow!("gateway never started");
        for _ in 0..START_ATTEMPTS {
            match self.start_once(binary).await {
                Ok(gateway) => return Ok(gateway),
                Err(StartError::Bind(e)) => last = e,
                Err(StartError::Other(e)) => return Err(e),
            }
        }
        Err(last.context(format!("gave up after {START_ATTEMPTS} bind failures")))
    }

    async fn start_once(&self, binary: &Path) -> Result<Gateway, StartError> {
        let gateway = self.prepare(binary).map_err(StartError::Other)?;
        gateway.wait_ready(self.ready_timeout).await
    }

    /// Writes the files and starts the process (not yet ready).
    fn prepare(&self, binary: &Path) -> Result<Gateway> {
        let files = self.write_files(binary)?;
        let dir_path = files.dir.path().to_path_buf();
        let stdout = std::fs::File::create(dir_path.join("stdout.log"))?;
        let stderr = std::fs::File::create(dir_path.join("stderr.log"))?;
        let child = Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(dir_path.join("gateway.yaml"))
            .current_dir(&dir_path)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Gateway {
            child,
            binary: files.binary,
            addr: files.addr,
            admin_addr: files.admin_addr,
            env: files.env,
            dir: Some(files.dir),
            dir_path,
        })
    }
}

impl Gateway {
    async fn wait_ready(mut self, timeout: Duration) -> Result<Self, StartError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let logs = self.logs();
                let err =
                    anyhow!("portcullis serve exited with {status} before listening:\n{logs}");
                let lower = logs.to_ascii_lowercase();
                return Err(if lower.contains("in use") || lower.contains("bind") {
                    StartError::Bind(err)
                } else {
                    StartError::Other(err)
                });
            }
            if TcpStream::connect(self.addr).await.is_ok() {
                return Ok(self);
            }
            if Instant::now() > deadline {
                return Err(StartError::Other(anyhow!(
                    "portcullis serve did not listen on {} within {timeout:?}:\n{}",
                    self.addr,
                    self.logs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 20 s) until the admin port accepts TCP.
    pub async fn wait_admin(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(self.admin_addr).await.is_err() {
            if Instant::now() > deadline {
                bail!(
                    "admin port {} never opened:\n{}",
                    self.admin_addr,
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// The proxy address (`server.listen`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin address (`server.admin_listen`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// A raw client for the proxy address.
    pub fn http(&self) -> Http {
        Http::new(self.addr)
    }

    /// A raw client for the admin address.
    pub fn admin_http(&self) -> Http {
        Http::new(self.admin_addr)
    }

    /// The temp dir holding gateway.yaml, policies/, the logs and the
    /// SQLite database.
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// `<dir>/gateway.yaml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir_path.join("gateway.yaml")
    }

    /// `<dir>/policies`.
    pub fn policies_dir(&self) -> PathBuf {
        self.dir_path.join("policies")
    }

    /// Overwrites (or adds) `policies/<name>`, e.g. for reload tests. The
    /// file is written to a sibling temp file and renamed into place, so a
    /// watcher never sees half a file.
    pub fn write_policy(&self, name: &str, text: &str) -> Result<()> {
        let tmp = self.dir_path.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.policies_dir().join(name))?;
        Ok(())
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// What the gateway printed so far: stdout, then stderr.
    pub fn logs(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout(),
            self.stderr()
        )
    }

    /// What the gateway printed to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir_path.join("stdout.log")).unwrap_or_default()
    }

    /// What the gateway printed to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir_path.join("stderr.log")).unwrap_or_default()
    }

    /// Sends SIGTERM (graceful shutdown).
    pub async fn terminate(&self) -> Result<()> {
        self.signal("TERM").await
    }

    /// Sends a signal by name (`TERM`, `INT`, `HUP`, …) with `kill(1)`;
    /// the workspace forbids the `unsafe` a direct `kill(2)` would need.
    pub async fn signal(&self, name: &str) -> Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("the gateway has already exited"))?;
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .await
            .context("running kill")?;
        if !status.success() {
            bail!("kill -{name} {pid} failed with {status}");
        }
        Ok(())
    }

    /// SIGKILLs the gateway now and reaps it.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.kill().await.context("killing the gateway")
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()?
            .ok()
    }

    /// Runs `portcullis <args> --config <dir>/gateway.yaml` to completion
    /// (e.g. `["check"]`, `["explain", "GET", "/api/posts"]`), with the
    /// builder's environment and the temp dir as working directory.
    pub async fn run_cli(&self, args: &[&str]) -> Result<Output> {
        self.run_cli_stdin(args, None).await
    }

    /// Like [`Gateway::run_cli`], writing `stdin` to the process first (for
    /// `user create … --password-stdin`).
    pub async fn run_cli_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        run_cli(&self.binary, &self.dir_path, &self.env, args, stdin).await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "==== portcullis gateway logs ({}) ====\n{}",
                self.dir_path.display(),
                self.logs()
            );
        }
        if std::env::var_os("PORTCULLIS_KEEP_TMP").is_some()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("portcullis-tests: kept {}", dir.keep().display());
        }
        // `kill_on_drop` SIGKILLs the child when `self.child` drops next.
        let _ = self.child.start_kill();
    }
}
