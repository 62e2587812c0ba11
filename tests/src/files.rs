//! The written configuration of a gateway, started or not, and running the
//! `portcullis` CLI against it (`check`, `explain`, `user create`, `token`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::bin::portcullis_bin;
use crate::config::GatewayBuilder;

/// The written configuration of a gateway that was not started: for
/// `portcullis check` / `explain` / `user create` on configurations that
/// `serve` would reject, or before the first start.
pub struct GatewayFiles {
    pub(crate) binary: PathBuf,
    pub(crate) addr: SocketAddr,
    pub(crate) admin_addr: SocketAddr,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) dir: TempDir,
}

impl GatewayBuilder {
    /// Writes the configuration into a fresh temp dir without starting the
    /// gateway (the binary is located, and built if needed, first).
    pub async fn write(&self) -> Result<GatewayFiles> {
        let binary = tokio::task::spawn_blocking(portcullis_bin).await??;
        self.write_files(&binary)
    }

    pub(crate) fn write_files(&self, binary: &Path) -> Result<GatewayFiles> {
        let dir = tempfile::Builder::new()
            .prefix("portcullis-e2e-")
            .tempdir()
            .context("creating the gateway temp dir")?;
        let (addr, admin_addr) = two_free_ports()?;
        let policies = dir.path().join("policies");
        std::fs::create_dir_all(&policies)?;
        for (name, text) in self.policy_files() {
            std::fs::write(policies.join(&name), text)
                .with_context(|| format!("writing policy {name}"))?;
        }
        let config = self.render(dir.path(), addr, admin_addr);
        std::fs::write(dir.path().join("gateway.yaml"), config)?;
        Ok(GatewayFiles {
            binary: binary.to_path_buf(),
            addr,
            admin_addr,
            env: self.env.clone(),
            dir,
        })
    }
}

impl GatewayFiles {
    /// The temp dir holding gateway.yaml and policies/.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `<dir>/gateway.yaml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("gateway.yaml")
    }

    /// The `server.listen` address written into gateway.yaml.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `server.admin_listen` address written into gateway.yaml.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Runs `portcullis <args> --config <dir>/gateway.yaml`; see
    /// [`Gateway::run_cli`].
    pub async fn run_cli(&self, args: &[&str]) -> Result<Output> {
        run_cli(&self.binary, self.dir.path(), &self.env, args, None).await
    }

    /// Like [`GatewayFiles::run_cli`] with `stdin` written to the process.
    pub async fn run_cli_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        run_cli(&self.binary, self.dir.path(), &self.env, args, stdin).await
    }
}

/// Runs the binary with `--config <dir>/gateway.yaml` appended (30 s limit).
pub(crate) async fn run_cli(
    binary: &Path,
    dir: &Path,
    env: &[(String, String)],
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Output> {
    let mut child = Command::new(binary)
        .args(args)
        .arg("--config")
        .arg(dir.join("gateway.yaml"))
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} {}", binary.display(), args.join(" ")))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).await?;
        // Dropping the pipe closes it, so the CLI sees EOF.
    }
    match tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await {
        Ok(output) => Ok(output?),
        Err(_) => bail!("`portcullis {}` did not finish within 30s", args.join(" ")),
    }
}

/// Two distinct free ports on 127.0.0.1: both are bound at once, then
/// released for the gateway to take.
fn two_free_ports() -> Result<(SocketAddr, SocketAddr)> {
    let a = std::net::TcpListener::bind("127.0.0.1:0")?;
    let b = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok((a.local_addr()?, b.local_addr()?))
}
