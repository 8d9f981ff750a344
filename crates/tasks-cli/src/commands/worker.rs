//! `tasks worker`: a long-running host whose kinds are commands from the config file
//! (`[kinds."NAME"]`: program, args, env, concurrency, retry, timeout), run by the process
//! executor. It prepares the store's schema, claims tasks until SIGINT or SIGTERM, then stops
//! gracefully: no new claims, running tasks get the stop timeout, then are cancelled and
//! released for another worker. A second signal during the drain stops at once.

use clap::Args;
use tasks::core::{TaskHostEvent, TaskLifecycleEvent};
use tasks::host::TaskHost;
use tokio::sync::mpsc;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::live;
use crate::output::events::{lifecycle_line, runner_error_line};
use crate::output::format::duration;
use crate::output::{print_json_line, write_stdout};
use crate::runtime::{StopSignals, block_on};

/// Options of `tasks worker` (the kinds come from the config file).
#[derive(Args, Debug)]
pub(crate) struct WorkerArgs {
    /// Tasks this worker runs at once [default: the config file's, else 10]
    #[arg(long, value_name = "N")]
    concurrency: Option<u32>,
    /// The name this worker's claims carry [default: runner-PID-ULID]
    #[arg(long, value_name = "ID")]
    runner_id: Option<String>,
}

/// What the host tells the log.
enum Report {
    Lifecycle(Box<TaskLifecycleEvent>),
    Host(Box<TaskHostEvent>),
}

pub(crate) fn run(args: WorkerArgs, context: &Context) -> Result<(), CliError> {
    let Some(config) = context.config()? else {
        return Err(CliError::usage(
            "no config file: pass --config PATH (or create ./tasks.toml) with a [kinds.\"NAME\"] section per kind",
        ));
    };
    if config.registrations().is_empty() {
        return Err(CliError::usage(format!(
            "{} defines no kinds: add a [kinds.\"NAME\"] section with a program",
            config.path().display()
        )));
    }
    let mut options = config.runner_options()?;
    if let Some(concurrency) = args.concurrency {
        options = options.concurrency(concurrency);
    }
    if let Some(id) = args.runner_id {
        options = options.runner_id(id);
    }
    let stop_timeout = options.stop_timeout;
    let (store_config, store) = context.prepare_store()?;
    let mut builder = TaskHost::builder_from_arc(store.as_arc().clone()).options(options);
    for registration in config.registrations() {
        builder = builder.handler(registration.clone());
    }
    let host = builder.build()?;
    let kinds = config.kind_names().join(", ");
    let json = context.json();
    let listening = store.clone();
    let result = block_on(async move {
        let mut signals = StopSignals::listen()?;
        let (sender, mut reports) = mpsc::unbounded_channel();
        let lifecycle = sender.clone();
        let _lifecycle = host.on_lifecycle_event(move |event| {
            let _ = lifecycle.send(Report::Lifecycle(Box::new(event.clone())));
        });
        let _host_events = host.on_event(move |event| {
            if runner_error_line(event).is_some() {
                let _ = sender.send(Report::Host(Box::new(event.clone())));
            }
        });
        host.start().await?;
        let waker = host.waker();
        let listener = live::listen(&listening, move || waker.wake()).await?;
        status(
            json,
            &format!(
                "worker {} started on {store_config}: kinds {kinds}; Ctrl-C or SIGTERM stops it",
                host.runner_id()
            ),
        )?;
        let signal = loop {
            tokio::select! {
                Some(report) = reports.recv() => show(&report, json)?,
                signal = signals.recv() => break signal,
            }
        };
        status(
            json,
            &format!(
                "{} received: draining running tasks (up to {})",
                signal.name(),
                duration(stop_timeout)
            ),
        )?;
        let stopped = {
            let stop = host.stop();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    stopped = &mut stop => break stopped.map_err(CliError::from),
                    Some(report) = reports.recv() => show(&report, json)?,
                    signal = signals.recv() => break Err(CliError::new(
                        ExitStatus::Interrupted,
                        format!("{} received again: stopped without draining", signal.name()),
                    )),
                }
            }
        };
        while let Ok(report) = reports.try_recv() {
            show(&report, json)?;
        }
        live::stop_listening(listener).await;
        stopped?;
        status(json, "worker stopped")
    });
    // The store's last handle goes here, off the runtime (the PostgreSQL client needs that).
    drop(store);
    result
}

/// A status line: on stdout for people; on stderr with `--json`, which keeps stdout for events.
fn status(json: bool, line: &str) -> Result<(), CliError> {
    if json {
        eprintln!("{line}");
        Ok(())
    } else {
        write_stdout(line)
    }
}

fn show(report: &Report, json: bool) -> Result<(), CliError> {
    match report {
        Report::Lifecycle(event) if json => print_json_line(event),
        Report::Lifecycle(event) => match lifecycle_line(event) {
            Some(line) => write_stdout(&line),
            None => Ok(()),
        },
        Report::Host(event) if json => print_json_line(event),
        Report::Host(event) => {
            if let Some(line) = runner_error_line(event) {
                eprintln!("{line}");
            }
            Ok(())
        }
    }
}
