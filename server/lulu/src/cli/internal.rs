//! The commands that are not for people: `serve` (the protocol on stdio), and the hidden
//! runner entry point. Neither prints to stdout through the CLI's lock.

use super::*;

pub(super) fn serve(global: &GlobalOptions, args: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs { reconcile_every_ms } = args;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let code = runtime.block_on(lulu_lsp::serve_stdio(lulu_lsp::ServeOptions {
        overrides: global.overrides(),
        reconcile_every: std::time::Duration::from_millis(reconcile_every_ms.max(100)),
    }));
    // Stdin may still be open and its reader blocked: end now (see serve_stdio).
    std::process::exit(code)
}

pub(super) fn run(global: &GlobalOptions, args: RunArgs) -> anyhow::Result<()> {
    let RunArgs {
        session,
        run,
        lock_fd,
        worktree,
        branch,
    } = args;
    lulu_core::process::adopt_runner_lock(lock_fd)
        .context("the runner lock was not handed over")?;
    let settings = Settings::resolve(global.overrides())?;
    let worktree = match (worktree, branch) {
        (Some(path), Some(branch)) => Some((path, branch)),
        (None, None) => None,
        _ => bail!("--worktree and --branch go together"),
    };
    runner::run(RunnerOptions {
        state_dir: settings.state_dir,
        id: lulu_core::model::SessionId(session),
        run,
        worktree,
        cancel_grace: runner::cancel_grace_from_env(),
    })?;
    Ok(())
}
