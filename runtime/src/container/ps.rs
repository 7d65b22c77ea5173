//! `ps`: the container's host pids, raw (`--format json`) or as a filtered
//! `ps(1)` table, as runc prints them.

use super::{Container, ContainerError};

pub fn pids(c: &Container) -> Result<Vec<i32>, ContainerError> {
    let mut p = c.cgroup()?.pids()?;
    p.sort_unstable();
    p.dedup();
    Ok(p)
}

/// Runs `ps <args>` (default `-ef`) and keeps the header and the lines whose
/// PID column holds one of `pids`.
pub fn table(pids: &[i32], args: &[String]) -> Result<String, ContainerError> {
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(super::io_err("running ps"))?;
    if !out.status.success() {
        return Err(ContainerError::Other(format!(
            "ps {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    filter_table(&String::from_utf8_lossy(&out.stdout), pids)
}

fn filter_table(text: &str, pids: &[i32]) -> Result<String, ContainerError> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| ContainerError::Other("couldn't find PID field in ps output".into()))?;
    let mut out = format!("{header}\n");
    for l in lines {
        let pid = l.split_whitespace().nth(col).and_then(|f| f.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_by_pid_column() {
        let t = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sh\nroot 43 42 sleep\n";
        assert_eq!(
            super::filter_table(t, &[42, 43]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sh\nroot 43 42 sleep\n"
        );
        assert!(super::filter_table("UID CMD\n", &[1]).is_err());
    }
}
