//! The checker's report: one JSON line the runner parses.

use serde_json::{json, Value};

#[derive(Default)]
pub struct Report {
    results: Vec<Value>,
    failed: bool,
}

impl Report {
    fn push(&mut self, status: &str, name: &str, detail: String) {
        self.results
            .push(json!({"name": name, "status": status, "detail": detail}));
    }

    pub fn pass(&mut self, name: &str, detail: impl Into<String>) {
        self.push("pass", name, detail.into());
    }

    pub fn fail(&mut self, name: &str, detail: impl Into<String>) {
        self.failed = true;
        self.push("fail", name, detail.into());
    }

    pub fn skip(&mut self, name: &str, reason: impl Into<String>) {
        self.push("skip", name, reason.into());
    }

    /// Pass if `got == want`, else fail with both.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, name: &str, got: T, want: T) {
        if got == want {
            self.pass(name, format!("{got:?}"));
        } else {
            self.failed = true;
            self.push("fail", name, format!("expected {want:?}, found {got:?}"));
        }
    }

    /// Pass if `ok`, else fail with `detail`.
    pub fn ok(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        if ok {
            self.pass(name, detail);
        } else {
            self.failed = true;
            self.push("fail", name, detail.into());
        }
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn print(&self) {
        println!("{}", json!({"oci-checker": 1, "results": self.results}));
    }
}
