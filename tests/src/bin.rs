//! Finding (and building) the `portcullis` binary the end-to-end tests run.
//!
//! Cargo only sets `CARGO_BIN_EXE_portcullis` for tests of the package that
//! owns the binary, so this kit locates it itself:
//!
//! 1. `PORTCULLIS_BIN`, if set, is used as is (nothing is built).
//! 2. Otherwise the profile directory is found by walking up from the
//!    running test executable (`target/<profile>/deps/<test>` →
//!    `target/<profile>`), and `cargo build -p portcullis --bin portcullis`
//!    is run once per test process for that profile and target dir, so the
//!    tests never run a stale binary (`cargo test -p portcullis-tests` does
//!    not build other packages' binaries). Set `PORTCULLIS_NO_BUILD=1` to
//!    skip the build and use whatever `target/<profile>/portcullis` exists.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};

static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The path of the `portcullis` binary, built first if needed (see the
/// module docs). Blocking: call it from `spawn_blocking` in async code.
pub fn portcullis_bin() -> Result<PathBuf> {
    BINARY
        .get_or_init(|| locate().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn locate() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PORTCULLIS_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(anyhow!("PORTCULLIS_BIN={} is not a file", path.display()));
        }
        return Ok(path);
    }
    let profile_dir = profile_dir()?;
    let binary = profile_dir.join(format!("portcullis{}", std::env::consts::EXE_SUFFIX));
    if std::env::var_os("PORTCULLIS_NO_BUILD").is_none() {
        build(&profile_dir)?;
    }
    if !binary.is_file() {
        return Err(anyhow!(
            "{} does not exist: run `cargo build -p portcullis` or set PORTCULLIS_BIN",
            binary.display()
        ));
    }
    Ok(binary)
}

/// `target/<profile>`, from the running executable's location.
fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .find(|dir| dir.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            anyhow!(
                "cannot find target/<profile>/ above {}; set PORTCULLIS_BIN",
                exe.display()
            )
        })
}

fn build(profile_dir: &Path) -> Result<()> {
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", profile_dir.display()))?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| anyhow!("tests/ has no parent directory"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "-p",
            "portcullis",
            "--bin",
            "portcullis",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    let output = cmd
        .output()
        .map_err(|e| anyhow!("running cargo to build portcullis: {e}"))?;
    if !output.status.success() {
        return Err(anyhow!(
            "`cargo build -p portcullis` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}
