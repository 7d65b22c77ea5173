//! The compiled programs, run through a small classic-BPF interpreter that
//! knows the instructions seccompiler and the chaining emit.

use super::*;
use oci_spec::runtime::LinuxSeccomp;

struct Data {
    nr: i32,
    arch: u32,
    args: [u64; 6],
}

fn run(prog: &[sock_filter], d: &Data) -> u32 {
    let word = |off: u32| -> u32 {
        match off {
            0 => d.nr as u32,
            4 => d.arch,
            16..=63 => {
                let i = ((off - 16) / 8) as usize;
                let hi = (off - 16) % 8 == 4;
                let v = d.args[i];
                // Little-endian layout of seccomp_data.args.
                if hi {
                    (v >> 32) as u32
                } else {
                    v as u32
                }
            }
            _ => panic!("load at {off}"),
        }
    };
    let (mut a, mut pc) = (0u32, 0usize);
    loop {
        let i = &prog[pc];
        pc += 1;
        match i.code {
            0x20 => a = word(i.k),
            0x54 => a &= i.k,
            0x06 => return i.k,
            0x05 => pc += i.k as usize,
            0x15 | 0x25 | 0x35 | 0x45 => {
                let t = match i.code {
                    0x15 => a == i.k,
                    0x25 => a > i.k,
                    0x35 => a >= i.k,
                    _ => a & i.k != 0,
                };
                pc += if t { i.jt } else { i.jf } as usize;
            }
            c => panic!("opcode {c:#x} at {}", pc - 1),
        }
    }
}

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).unwrap()
}

fn call(p: &Program, name: &str, args: [u64; 6]) -> u32 {
    let d = Data {
        nr: syscall_nr(name).unwrap() as i32,
        arch: NATIVE.1,
        args,
    };
    run(&p.filter, &d)
}

const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

#[test]
fn actions_and_default() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1234,
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["getpid"], "action": "SCMP_ACT_KILL"},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["gettid"], "action": "SCMP_ACT_TRAP"},
            {"names": ["getuid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["getgid"], "action": "SCMP_ACT_LOG"},
            {"names": ["uname"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["no_such_syscall"], "action": "SCMP_ACT_ALLOW"}
        ]
    })))
    .unwrap();
    let z = [0; 6];
    assert_eq!(call(&p, "read", z), RET_ALLOW);
    assert_eq!(call(&p, "write", z), RET_ALLOW);
    assert_eq!(call(&p, "mkdirat", z), RET_ERRNO | 13);
    assert_eq!(call(&p, "getpid", z), RET_KILL_THREAD);
    assert_eq!(call(&p, "getppid", z), RET_KILL_PROCESS);
    assert_eq!(call(&p, "gettid", z), RET_TRAP);
    assert_eq!(call(&p, "getuid", z), RET_TRACE | 7);
    assert_eq!(call(&p, "getgid", z), RET_LOG);
    assert_eq!(call(&p, "uname", z), RET_USER_NOTIF);
    assert_eq!(call(&p, "close", z), RET_ERRNO | 1234);
    assert_eq!(p.skipped, ["no_such_syscall"]);
    assert!(p.notify());
    // Another ABI never reaches the rules.
    let foreign = Data {
        nr: 0,
        arch: 0x4000_0003,
        args: z,
    };
    assert_eq!(run(&p.filter, &foreign), RET_ERRNO | 1234);
}

#[test]
fn enosys_above_the_highest_named_syscall() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
    })))
    .unwrap();
    assert_eq!(call(&p, "read", [0; 6]), RET_ALLOW);
    assert_eq!(call(&p, "clone3", [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
    // Below the highest named one: the default (EPERM).
    let below = Data {
        nr: syscall_nr("read").unwrap() as i32 - 1,
        arch: NATIVE.1,
        args: [0; 6],
    };
    if below.nr >= 0 {
        assert_eq!(run(&p.filter, &below), EPERM);
    }
    #[cfg(target_arch = "x86_64")]
    {
        let x32 = Data {
            nr: 0x4000_0000,
            arch: NATIVE.1,
            args: [0; 6],
        };
        assert_eq!(run(&p.filter, &x32), EPERM);
    }
}

#[test]
fn operators() {
    let rule = |op: &str, v: u64, v2: u64| {
        compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 0, "value": v, "valueTwo": v2, "op": op}]}]
        })))
        .unwrap()
    };
    let hit = |p: &Program, x: u64| call(p, "personality", [x, 0, 0, 0, 0, 0]) == EPERM;
    let big = 0x1_0000_0005u64;
    let p = rule("SCMP_CMP_EQ", big, 0);
    assert!(hit(&p, big) && !hit(&p, 5) && !hit(&p, big + 1));
    let p = rule("SCMP_CMP_NE", big, 0);
    assert!(!hit(&p, big) && hit(&p, 5));
    let p = rule("SCMP_CMP_LT", big, 0);
    assert!(hit(&p, 5) && hit(&p, big - 1) && !hit(&p, big) && !hit(&p, u64::MAX));
    let p = rule("SCMP_CMP_LE", big, 0);
    assert!(hit(&p, big) && !hit(&p, big + 1));
    let p = rule("SCMP_CMP_GT", big, 0);
    assert!(hit(&p, big + 1) && !hit(&p, big) && !hit(&p, 0x2_0000_0000 - 1 - 0x1_0000_0000));
    let p = rule("SCMP_CMP_GE", big, 0);
    assert!(hit(&p, big) && !hit(&p, big - 1));
    let p = rule("SCMP_CMP_MASKED_EQ", 0xff00, 0x1200);
    assert!(hit(&p, 0x12ab) && hit(&p, 0x1_0000_1200) && !hit(&p, 0x13ab));
    // valueTwo outside the mask can never match.
    let p = rule("SCMP_CMP_MASKED_EQ", 0xff00, 0x12ff);
    assert!(!hit(&p, 0x12ff) && !hit(&p, 0x1200));
}

#[test]
fn repeated_index_is_or_distinct_indexes_are_and() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    let a = |x: u64, y: u64| [x, y, 0, 0, 0, 0];
    assert_eq!(call(&p, "personality", a(0, 0)), RET_ALLOW);
    assert_eq!(call(&p, "personality", a(8, 0)), RET_ALLOW);
    assert_eq!(call(&p, "personality", a(9, 0)), EPERM);
    assert_eq!(call(&p, "kill", a(1, 9)), RET_ALLOW);
    assert_eq!(call(&p, "kill", a(1, 15)), EPERM);
    assert_eq!(call(&p, "kill", a(2, 9)), EPERM);
}

#[test]
fn conditional_rules_before_unconditional_and_strictest_first() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_LOG",
             "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]},
            {"names": ["rmdir"], "action": "SCMP_ACT_LOG"},
            {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"}
        ]
    })))
    .unwrap();
    assert_eq!(call(&p, "mkdir", [0, 448, 0, 0, 0, 0]), RET_LOG);
    assert_eq!(call(&p, "mkdir", [0, 493, 0, 0, 0, 0]), EPERM);
    assert_eq!(call(&p, "rmdir", [0; 6]), RET_KILL_PROCESS);
    assert_eq!(call(&p, "read", [0; 6]), RET_ALLOW);
}

#[test]
fn bad_profiles() {
    let bad_index = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]
    }));
    assert!(matches!(
        compile(&bad_index),
        Err(SeccompError::ArgIndex { .. })
    ));
    let notify_write = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
        "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert!(matches!(
        compile(&notify_write),
        Err(SeccompError::NotifyOn(_))
    ));
    let notify_default = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"
    }));
    assert!(matches!(
        compile(&notify_default),
        Err(SeccompError::NotifyDefault)
    ));
    // Unknown actions and operators are refused by the spec's types.
    for bad in [
        r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
            "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_XX"}]}]}"#,
    ] {
        assert!(serde_json::from_str::<LinuxSeccomp>(bad).is_err(), "{bad}");
    }
}

#[test]
fn large_profile_fits() {
    let names: Vec<&str> = syscalls::TABLE.iter().map(|(n, _)| *n).collect();
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    })))
    .unwrap();
    assert!(p.filter.len() <= BPF_MAXINSNS, "{}", p.filter.len());
    assert_eq!(call(&p, "openat", [0; 6]), RET_ALLOW);
}
