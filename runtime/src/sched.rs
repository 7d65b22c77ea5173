//! Per-process attributes: scheduler, I/O priority, personality, oom_score_adj.

use crate::sys;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct SchedError {
    what: &'static str,
    source: std::io::Error,
}

fn err(what: &'static str) -> impl FnOnce(std::io::Error) -> SchedError {
    move |source| SchedError { what, source }
}

pub fn set_scheduler(s: &Scheduler) -> Result<(), SchedError> {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let mut attr = sys::SchedAttr {
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: s.priority().unwrap_or(0) as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        ..Default::default()
    };
    sys::sched_setattr(&mut attr).map_err(err("sched_setattr"))
}

pub fn set_io_priority(p: &LinuxIOPriority) -> Result<(), SchedError> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        return Err(SchedError {
            what: "ioPriority",
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        });
    }
    sys::ioprio_set(class, p.priority() as u32).map_err(err("ioprio_set"))
}

pub fn set_personality(p: &LinuxPersonality) -> Result<(), SchedError> {
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    if unsafe { libc::personality(persona) } < 0 {
        return Err(SchedError {
            what: "personality",
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

pub fn set_oom_score_adj(v: i32) -> Result<(), SchedError> {
    std::fs::write("/proc/self/oom_score_adj", v.to_string()).map_err(err("writing oom_score_adj"))
}
