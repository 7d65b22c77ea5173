//! The process: user/groups/umask, cwd, env, args, noNewPrivileges, oomScoreAdj.

use super::{check, typed};
use crate::bundle::{process, CHECKER};
use crate::harness::{test, Ctx, Outcome, Test, TestResult};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        test("process", "root-user", root_user),
        test("process", "user-groups-umask", user_groups),
        test("process", "cwd", cwd),
        test("process", "env", env),
        test("process", "args", args),
        test("process", "args0-path-lookup", path_lookup),
        test("process", "no-new-privileges-true", nnp_true),
        test("process", "no-new-privileges-false", nnp_false),
        test("process", "oom-score-adj", oom),
        test("process", "scheduler", scheduler),
        test("process", "io-priority", io_priority),
    ]
}

fn root_user(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["user", "process"], |_| {})
}

fn user_groups(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["user", "process"], |s| {
        process(s).set_user(typed(
            json!({"uid": 1000, "gid": 1001, "additionalGids": [2000, 3000], "umask": 0o027}),
        ));
    })
}

fn cwd(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["process"], |s| {
        process(s).set_cwd("/tmp".into());
    })
}

fn env(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["process"], |s| {
        let p = process(s);
        let mut e = p.env().clone().unwrap_or_default();
        e.extend([
            "OC_FOO=bar baz".to_string(),
            "OC_EMPTY=".to_string(),
            "OC_EQ=a=b".to_string(),
        ]);
        p.set_env(Some(e));
    })
}

fn args(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["process"], |s| {
        let a = [
            CHECKER,
            "check",
            "process",
            "--",
            "with space",
            "",
            "ünïcode",
            "$HOME",
        ];
        process(s).set_args(Some(a.iter().map(|x| x.to_string()).collect()));
    })
}

/// A bare args[0] is found through the process's PATH, as execvp does.
fn path_lookup(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["process"], |s| {
        let p = process(s);
        p.set_args(Some(vec![
            "oci-checker".into(),
            "check".into(),
            "process".into(),
        ]));
        p.set_env(Some(vec!["PATH=/nonexistent:/".into()]));
    })
}

fn nnp_true(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["process"], |s| {
        process(s).set_no_new_privileges(Some(true));
    })
}

fn nnp_false(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["process"], |s| {
        process(s).set_no_new_privileges(Some(false));
    })
}

fn oom(ctx: &mut Ctx) -> TestResult {
    check(ctx, &["process"], |s| {
        process(s).set_oom_score_adj(Some(500));
    })
}

/// SCHED_BATCH with a nice value: needs no privilege, differs from the default.
fn scheduler(ctx: &mut Ctx) -> TestResult {
    if let Some(why) = ctx.needs_spec("1.2.0", "process.scheduler") {
        return Ok(Outcome::Skip(why));
    }
    check(ctx, &["sched"], |s| {
        process(s).set_scheduler(Some(typed(json!({"policy": "SCHED_BATCH", "nice": 5}))));
    })
}

fn io_priority(ctx: &mut Ctx) -> TestResult {
    if let Some(why) = ctx.needs_spec("1.1.0", "process.ioPriority") {
        return Ok(Outcome::Skip(why));
    }
    check(ctx, &["sched"], |s| {
        process(s).set_io_priority(Some(typed(
            json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
        )));
    })
}
