//! Output formats, the closing summary line, and the Markdown comparison.

use crate::harness::{Outcome, Record};
use crate::Format;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn counts(results: &[Record]) -> (usize, usize, usize) {
    let n = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    (
        n(|o| matches!(o, Outcome::Pass)),
        n(|o| matches!(o, Outcome::Fail(_))),
        n(|o| matches!(o, Outcome::Skip(_))),
    )
}

/// Details on one line: TAP and the table are line-oriented.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Print results; returns true if any test failed.
pub fn print(results: &[Record], format: Format) -> bool {
    match format {
        Format::Tap => {
            println!("TAP version 13");
            println!("1..{}", results.len());
            for (i, r) in results.iter().enumerate() {
                match &r.outcome {
                    Outcome::Pass => println!("ok {} - {}", i + 1, r.name),
                    Outcome::Fail(d) => {
                        println!("not ok {} - {}", i + 1, r.name);
                        for l in one_line(d).split("; ") {
                            println!("#   {l}");
                        }
                    }
                    Outcome::Skip(why) => {
                        println!("ok {} - {} # SKIP {}", i + 1, r.name, one_line(why))
                    }
                }
            }
        }
        Format::Table => {
            let w = results.iter().map(|r| r.name.len()).max().unwrap_or(10);
            for r in results {
                let (tag, detail) = match &r.outcome {
                    Outcome::Pass => ("pass", String::new()),
                    Outcome::Fail(d) => ("FAIL", one_line(d)),
                    Outcome::Skip(d) => ("skip", one_line(d)),
                };
                println!("{:<w$}  {tag}  {:>5}ms  {detail}", r.name, r.millis);
            }
        }
        Format::Json => {
            let v: Vec<Value> = results
                .iter()
                .map(|r| {
                    let (status, detail) = match &r.outcome {
                        Outcome::Pass => ("pass", String::new()),
                        Outcome::Fail(d) => ("fail", d.clone()),
                        Outcome::Skip(d) => ("skip", d.clone()),
                    };
                    json!({"name": r.name, "status": status, "detail": detail, "ms": r.millis})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"results": v})).unwrap_or_default()
            );
        }
    }
    let (p, f, s) = counts(results);
    println!("{p} passed, {f} failed, {s} skipped");
    f > 0
}

/// One runtime's results: test name -> (status, detail), and its summary line.
struct RuntimeRun {
    name: String,
    results: BTreeMap<String, (String, String)>,
    summary: String,
}

/// `NAME=FILE` pairs of `--format json` outputs -> a Markdown comparison.
pub fn markdown(inputs: &[String]) -> Result<String> {
    let mut runs: Vec<RuntimeRun> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    for inp in inputs {
        let (name, file) = inp.split_once('=').context("expected NAME=FILE")?;
        let text = std::fs::read_to_string(file).with_context(|| format!("read {file}"))?;
        // The JSON document is followed by the summary line.
        let (doc, summary) = match text.trim_end().rsplit_once('\n') {
            Some((d, s)) if s.contains(" passed, ") => (d.to_string(), s.to_string()),
            _ => (text.clone(), "did not finish".to_string()),
        };
        let v: Value = serde_json::from_str(&doc).unwrap_or(json!({"results": []}));
        let mut map = BTreeMap::new();
        for r in v["results"].as_array().cloned().unwrap_or_default() {
            let n = r["name"].as_str().unwrap_or("").to_string();
            if !order.contains(&n) {
                order.push(n.clone());
            }
            map.insert(
                n,
                (
                    r["status"].as_str().unwrap_or("").to_string(),
                    r["detail"].as_str().unwrap_or("").to_string(),
                ),
            );
        }
        runs.push(RuntimeRun {
            name: name.to_string(),
            results: map,
            summary,
        });
    }
    let mut s = String::new();
    s.push_str("| test |");
    for r in &runs {
        s.push_str(&format!(" {} |", r.name));
    }
    s.push_str("\n|---|");
    for _ in &runs {
        s.push_str("---|");
    }
    s.push('\n');
    for t in &order {
        s.push_str(&format!("| `{t}` |"));
        for r in &runs {
            let cell = match r.results.get(t).map(|x| x.0.as_str()) {
                Some("pass") => "pass",
                Some("fail") => "**FAIL**",
                Some("skip") => "skip",
                _ => "–",
            };
            s.push_str(&format!(" {cell} |"));
        }
        s.push('\n');
    }
    s.push_str("| **total** |");
    for r in &runs {
        s.push_str(&format!(" {} |", r.summary));
    }
    s.push('\n');
    for r in &runs {
        let (n, m) = (&r.name, &r.results);
        let notes: Vec<_> = m.iter().filter(|(_, (st, _))| st != "pass").collect();
        if notes.is_empty() {
            continue;
        }
        s.push_str(&format!("\n### {n}: failures and skips\n\n"));
        for (t, (st, d)) in notes {
            let d = stable(&one_line(d).replace('|', "\\|"));
            s.push_str(&format!("- `{t}` {st}: {d}\n"));
        }
    }
    Ok(s)
}

/// Replace the run-specific numbers after `oci-conformance-`, `/t` and `occ`
/// (pids, test indexes) with `N`, so RESULTS.md only changes when results do.
fn stable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while !rest.is_empty() {
        for pre in ["oci-conformance-", "/t", "occ", "-"] {
            if let Some(after) = rest.strip_prefix(pre) {
                let digits = after.chars().take_while(char::is_ascii_digit).count();
                if digits > 0 && (pre != "-" || out.ends_with("occN")) {
                    out.push_str(pre);
                    out.push('N');
                    rest = &after[digits..];
                    continue 'outer;
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::stable;

    #[test]
    fn run_specific_numbers_are_replaced() {
        assert_eq!(
            stable("`x run --bundle /tmp/oci-conformance-7471/t72/bundles/bundle occ7471-72-c` exited Some(1)"),
            "`x run --bundle /tmp/oci-conformance-N/tN/bundles/bundle occN-N-c` exited Some(1)"
        );
        assert_eq!(stable("expected -1, found 30-2"), "expected -1, found 30-2");
    }
}
