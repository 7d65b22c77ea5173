//! Progress output: `indicatif` bars per blob and overall when stderr is a
//! terminal, one plain line per finished blob otherwise, nothing when quiet.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub enum Progress {
    Bars {
        multi: MultiProgress,
        total: ProgressBar,
    },
    Lines,
    Quiet,
}

/// Progress of one blob.
pub struct BlobBar {
    bar: Option<ProgressBar>,
    total: Option<ProgressBar>,
    line: Option<String>,
}

impl Progress {
    /// Bars on a terminal, lines otherwise, nothing if `quiet`.
    pub fn new(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total = multi.add(ProgressBar::new(0));
            total.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            total.set_prefix("total");
            Progress::Bars { multi, total }
        } else {
            Progress::Lines
        }
    }

    /// A bar for blob `digest` of `size` bytes.
    pub fn blob(&self, digest: &str, size: u64) -> BlobBar {
        let short: String = digest
            .split(':')
            .nth(1)
            .unwrap_or(digest)
            .chars()
            .take(12)
            .collect();
        match self {
            Progress::Bars { multi, total } => {
                total.inc_length(size);
                let bar = multi.insert_before(total, ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>12} [{bar:30}] {bytes}/{total_bytes}")
                        .expect("static template")
                        .progress_chars("=> "),
                );
                bar.set_prefix(short);
                BlobBar {
                    bar: Some(bar),
                    total: Some(total.clone()),
                    line: None,
                }
            }
            Progress::Lines => BlobBar {
                bar: None,
                total: None,
                line: Some(format!("{digest} ({size} bytes)")),
            },
            Progress::Quiet => BlobBar {
                bar: None,
                total: None,
                line: None,
            },
        }
    }

    /// A line of status (not shown when quiet).
    pub fn say(&self, msg: &str) {
        match self {
            Progress::Bars { multi, .. } => {
                let _ = multi.println(msg);
            }
            Progress::Lines => eprintln!("{msg}"),
            Progress::Quiet => {}
        }
    }

    pub fn finish(&self) {
        if let Progress::Bars { total, .. } = self {
            total.finish_and_clear();
        }
    }
}

impl BlobBar {
    pub fn set_position(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
        if let Some(t) = &self.total {
            t.inc(n);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if let Some(l) = &self.line {
            eprintln!("copied blob {l}");
        }
    }

    /// Already in the store.
    pub fn done_cached(&self) {
        if let Some(b) = &self.bar {
            if let Some(t) = &self.total {
                t.inc(b.length().unwrap_or(0));
            }
            b.finish_and_clear();
        }
        if let Some(l) = &self.line {
            eprintln!("blob already in store {l}");
        }
    }
}
