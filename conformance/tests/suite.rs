//! Runs the conformance runner (built by cargo for this test) against a real
//! runtime, so `cargo test --workspace` exercises the suite.
//!
//! - runtime: `OCI_CONFORMANCE_RUNTIME` (default: `runc` from PATH)
//! - checker: `OCI_CHECKER`, else the static build next to the target dir
//!   (`cargo build -p oci-conformance --bin oci-checker --target x86_64-unknown-linux-gnu`
//!   with `RUSTFLAGS="-C target-feature=+crt-static"`)
//! - `OCI_CONFORMANCE_EXCLUDE`: tests to leave out (default: the known runc
//!   deviation below when the runtime is runc)
//! - `OCI_CONFORMANCE_REQUIRE=1`: fail instead of skipping when root, the
//!   runtime or the checker is missing (for CI)

use std::path::PathBuf;
use std::process::Command;

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

fn checker(runner: &str) -> Option<PathBuf> {
    if let Some(c) = std::env::var_os("OCI_CHECKER") {
        return Some(PathBuf::from(c));
    }
    // target/debug/oci-conformance -> target/x86_64-unknown-linux-gnu/debug/oci-checker
    let dir = PathBuf::from(runner).parent()?.to_path_buf();
    let profile = dir.file_name()?.to_owned();
    let p = dir
        .parent()?
        .join("x86_64-unknown-linux-gnu")
        .join(profile)
        .join("oci-checker");
    p.is_file().then_some(p)
}

/// Skip (print why) or, under OCI_CONFORMANCE_REQUIRE, fail.
fn unavailable(why: &str) {
    if std::env::var_os("OCI_CONFORMANCE_REQUIRE").is_some() {
        panic!("conformance suite cannot run: {why}");
    }
    eprintln!("skipping the conformance suite: {why}");
}

#[test]
fn suite_against_runtime() {
    let runner = env!("CARGO_BIN_EXE_oci-conformance");
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return unavailable("needs root");
    }
    let runtime = match std::env::var_os("OCI_CONFORMANCE_RUNTIME") {
        Some(r) => PathBuf::from(r),
        None => match which("runc") {
            Some(r) => r,
            None => return unavailable("runc is not installed (scripts/deps installs it)"),
        },
    };
    let Some(checker) = checker(runner) else {
        return unavailable("the static checker is not built (see conformance/README.md)");
    };
    let is_runc = runtime.file_name().is_some_and(|n| n == "runc");
    // runc 1.1's known deviations (README.md): poststart at create (runc pull
    // request 5186), startContainer failures not reported by `start`, poststop
    // hooks stop at the first failure, /dev symlink followed to the host.
    let exclude = std::env::var("OCI_CONFORMANCE_EXCLUDE").unwrap_or_else(|_| {
        if is_runc {
            [
                "hooks/poststart-after-start",
                "hooks/start-container-failure-start-errors",
                "hooks/poststop-failure-continues",
                "security/dev-symlink-escape",
            ]
            .join(",")
        } else {
            String::new()
        }
    });
    let out = Command::new(runner)
        .args(["run", "--format", "tap", "-j", "2", "--runtime"])
        .arg(&runtime)
        .arg("--checker")
        .arg(&checker)
        .arg("--exclude")
        .arg(&exclude)
        .output()
        .expect("run oci-conformance");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().last().unwrap_or("");
    assert!(last.contains(" passed, "), "no summary line: {last}");
    assert!(
        out.status.success(),
        "conformance failures against {}: {last}",
        runtime.display()
    );
}
