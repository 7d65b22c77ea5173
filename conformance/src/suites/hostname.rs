//! hostname and domainname in a new UTS namespace.

use super::check;
use crate::harness::{test, Ctx, Outcome, Test, TestResult};

pub fn tests() -> Vec<Test> {
    vec![
        test("hostname", "hostname", hostname),
        test("hostname", "domainname", domainname),
    ]
}

fn hostname(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["hostname"], |s| {
        s.set_hostname(Some("oc-host-1".into()));
    })
}

fn domainname(ctx: &mut Ctx) -> TestResult {
    if let Some(why) = ctx.needs_spec("1.1.0", "domainname") {
        return Ok(Outcome::Skip(why));
    }
    check(ctx, &["hostname"], |s| {
        s.set_hostname(Some("oc-host-2".into()));
        s.set_domainname(Some("oc.example".into()));
    })
}
