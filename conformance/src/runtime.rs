//! Invoking the runtime under test with runc's command line, with a time limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot run {cmd}: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("`{cmd}` still running after {limit:?}: killed")]
    Timeout { cmd: String, limit: Duration },
    #[error("i/o around `{cmd}`: {source}")]
    Io { cmd: String, source: std::io::Error },
}

/// What one runtime command did.
#[derive(Debug)]
pub struct Output {
    pub cmd: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// A one-line account for failure messages.
    pub fn describe(&self) -> String {
        let err = self.stderr.trim();
        let err: String = err
            .chars()
            .rev()
            .take(300)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("`{}` exited {:?}: {}", self.cmd, self.code, err)
    }
}

/// One runtime with its own state directory (`--root`).
pub struct Runtime {
    pub path: PathBuf,
    pub root: PathBuf,
    /// Where stdout/stderr of each command are captured.
    pub scratch: PathBuf,
    pub timeout: Duration,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Runtime {
    /// `RUNTIME --root ROOT args...`, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.path);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    pub fn display(&self, args: &[&str]) -> String {
        format!("{} {}", self.path.display(), args.join(" "))
    }

    /// Run to completion. Output goes to files, not pipes: a detached
    /// container inherits them and would keep a pipe open forever.
    pub fn exec(&self, args: &[&str]) -> Result<Output, RuntimeError> {
        self.exec_cmd(self.command(args), self.display(args))
    }

    pub fn exec_cmd(&self, mut c: Command, cmd: String) -> Result<Output, RuntimeError> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let out_p = self.scratch.join(format!("cmd{n}.out"));
        let err_p = self.scratch.join(format!("cmd{n}.err"));
        let io = |source| RuntimeError::Io {
            cmd: cmd.clone(),
            source,
        };
        let out = std::fs::File::create(&out_p).map_err(io)?;
        let err = std::fs::File::create(&err_p).map_err(io)?;
        c.stdout(out).stderr(err);
        let mut child = c.spawn().map_err(|source| RuntimeError::Spawn {
            cmd: cmd.clone(),
            source,
        })?;
        let status = wait_timeout(&mut child, self.timeout).map_err(io)?;
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RuntimeError::Timeout {
                cmd,
                limit: self.timeout,
            });
        };
        Ok(Output {
            cmd,
            code: status.code(),
            stdout: read_lossy(&out_p),
            stderr: read_lossy(&err_p),
        })
    }
}

fn read_lossy(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

pub fn wait_timeout(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
