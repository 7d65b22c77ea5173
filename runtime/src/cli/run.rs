use super::create::CreateArgs;
use super::Global;
use crate::container::{create::create, delete::delete, start::start};
use crate::process::console;
use std::os::fd::AsFd;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container has started.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Do not delete the container after it exits.
    #[arg(long)]
    pub keep: bool,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<i32> {
    let root = g.root();
    let opts = a.create.opts(g);
    // With nobody to hand a pty to, we are the console (used only if the
    // config asks for a terminal; a socketpair is cheaper than reading the
    // config twice).
    let (ours, theirs) = if !a.detach && opts.console_socket.is_none() {
        let (x, y) = console::local_pair()?;
        (Some(x), Some(y))
    } else {
        (None, None)
    };
    let c = create(&root, &opts, theirs)?;
    let pid = c.state.pid;
    let terminal = c
        .state
        .config
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let master = match &ours {
        Some(s) if terminal => Some(console::recv_fd(s.as_fd())?),
        _ => None,
    };
    if let Err(e) = start(&c) {
        drop(c);
        let _ = delete(&root, &opts.id, true);
        return Err(e.into());
    }
    if a.detach {
        return Ok(0);
    }
    // Let `state`/`kill` from elsewhere work while we wait.
    drop(c);
    let code = crate::process::wait::wait(pid, master)?;
    if !a.keep {
        delete(&root, &opts.id, true)?;
    }
    Ok(code)
}
