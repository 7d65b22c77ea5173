use super::Global;
use crate::container;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// table or json
    #[arg(long, short = 'f', default_value = "table")]
    pub format: String,
    /// Only the ids.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let all = container::list(&g.root());
    if a.quiet {
        for (s, _) in &all {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match a.format.as_str() {
        "json" => {
            let v: Vec<serde_json::Value> = all.iter().map(|(s, st)| s.oci(*st)).collect();
            // runc prints `null` for no containers.
            if v.is_empty() {
                println!("null");
            } else {
                println!("{}", serde_json::to_string(&v)?);
            }
        }
        "table" => {
            let mut rows = vec![[
                "ID".to_string(),
                "PID".into(),
                "STATUS".into(),
                "BUNDLE".into(),
                "CREATED".into(),
                "OWNER".into(),
            ]];
            for (s, st) in &all {
                let pid = if *st == container::state::Status::Stopped {
                    0
                } else {
                    s.pid
                };
                rows.push([
                    s.id.clone(),
                    pid.to_string(),
                    st.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            // Go's tabwriter as runc sets it up: min width 12, padding 3.
            let widths: Vec<usize> = (0..6)
                .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0).max(9) + 3)
                .collect();
            for r in rows {
                let mut line = String::new();
                for (i, cell) in r.iter().enumerate() {
                    if i == 5 {
                        line.push_str(cell);
                    } else {
                        line.push_str(&format!("{cell:<w$}", w = widths[i]));
                    }
                }
                println!("{}", line.trim_end());
            }
        }
        f => anyhow::bail!("invalid format option {f:?}: use table or json"),
    }
    Ok(0)
}
