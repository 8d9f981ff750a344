//! Worker processes, the child's side: what `gauntlet-worker` runs. It opens the store, runs a
//! [`TaskHost`] with the gauntlet's one kind, logs what its host tells it to its history file,
//! enqueues its share of the tasks when asked, and stops gracefully when its stdin closes.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tasks_core::{
    Backoff, EnqueueOptions, HostEventType, InvalidInput, NewTask, StoreErrorKind, TaskHostEvent,
    TaskId, TaskStore,
};
use tasks_exec_inproc::{TaskContext, from_fn};
use tasks_host::{HandlerRegistration, RetryPolicy, RunnerOptions, TaskHost};

use super::history::{Event, HistoryLog};
use super::observed::{Call, ObservedStore, Observer, is_worker_write};
use super::stores::{OpenStore, WORKER_POOL};
use super::work::{self, WORK_KIND, WorkInput, ping_kind};
use super::worker::WorkerArgs;

/// Runs a worker with these arguments (the process's, without the program name); the exit
/// code says whether it ended cleanly.
pub fn main(args: &[String]) -> ExitCode {
    let args = match WorkerArgs::parse(args) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("gauntlet-worker: {problem}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("gauntlet-worker {}: {problem}", args.runner);
            ExitCode::FAILURE
        }
    }
}

/// Logs worker-side writes as `W` lines.
struct WriteLogger(Arc<HistoryLog>);

impl Observer for WriteLogger {
    fn observe(&self, call: Call<'_>) {
        let (Some(task), true) = (call.task, is_worker_write(call.op)) else { return };
        let result = match call.result {
            Ok(()) => "ok".to_owned(),
            Err(kind) => format!("{kind:?}"),
        };
        self.0.log(Event::Write { op: call.op.to_owned(), id: task.to_string(), result });
    }
}

fn run(args: &WorkerArgs) -> Result<(), String> {
    let log = Arc::new(HistoryLog::create(&args.log).map_err(|error| error.to_string())?);
    let opened = open_with_patience(args)?;
    let mut store = opened.as_dyn();
    if args.log_writes {
        store = Arc::new(ObservedStore::new(store, Arc::new(WriteLogger(Arc::clone(&log)))));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("no runtime: {error}"))?;
    let result = runtime.block_on(serve(args, store, &opened, log));
    // The last store handles go here, outside the runtime: the synchronous PostgreSQL client
    // must not close its connections on a runtime thread.
    drop(runtime);
    drop(opened);
    result
}

/// Opens the store, trying again for a while: a scenario may start workers while its server
/// restarts.
fn open_with_patience(args: &WorkerArgs) -> Result<OpenStore, String> {
    let mut last = String::new();
    for _ in 0..100 {
        match args.store.open(WORKER_POOL) {
            Ok(store) => return Ok(store),
            Err(error) => last = error.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("cannot open the store: {last}"))
}

async fn serve(
    args: &WorkerArgs,
    store: Arc<dyn TaskStore>,
    opened: &OpenStore,
    log: Arc<HistoryLog>,
) -> Result<(), String> {
    let options = RunnerOptions::default()
        .runner_id(args.runner.clone())
        .concurrency(args.concurrency)
        .lease(args.lease)
        .heartbeat(args.heartbeat)
        .poll_interval(args.poll)
        .stale_scan_interval(args.recover_every)
        .cancel_grace(args.cancel_grace)
        .stop_timeout(Duration::from_secs(2))
        .progress_flush_interval(Duration::from_millis(20))
        .watchdog(None);
    let handler_log = Arc::clone(&log);
    let handler = from_fn(move |input: WorkInput, ctx: TaskContext| {
        work::run(input, ctx, Arc::clone(&handler_log))
    });
    let retry = RetryPolicy::attempts(args.max_attempts)
        .backoff(Backoff::constant(Duration::from_millis(100)));
    let ping = from_fn(|_: serde_json::Value, _: TaskContext| async {
        Ok::<_, tasks_exec_inproc::TaskFailure>(())
    });
    let host = TaskHost::builder_from_arc(store)
        .options(options)
        .handler(HandlerRegistration::new(WORK_KIND, handler).retry(retry))
        .handler(HandlerRegistration::new(ping_kind(&args.runner), ping))
        .build()
        .map_err(|error| error.to_string())?;
    let event_log = Arc::clone(&log);
    let (stopped_tx, stopped_rx) = std::sync::mpsc::channel::<()>();
    let stopped_tx = std::sync::Mutex::new(stopped_tx);
    let _events = host.on_event(move |event| {
        log_event(&event_log, event);
        if event.event_type == HostEventType::RunnerStopped {
            let _ = stopped_tx.lock().map(|sender| sender.send(()));
        }
    });
    host.start().await.map_err(|error| error.to_string())?;
    let listener = match opened {
        OpenStore::Postgres(store) => {
            let (store, waker) = (Arc::clone(store), host.waker());
            let listening = tokio::task::spawn_blocking(move || store.listen(move || waker.wake()));
            Some(listening.await.map_err(|error| error.to_string())?.map_err(|e| e.to_string())?)
        }
        OpenStore::Sqlite(_) => None,
    };
    log.log(Event::Ready { runner: args.runner.clone() });
    let enqueuer = (args.enqueue > 0).then(|| {
        let (host, args, log) = (host.clone(), args.clone(), Arc::clone(&log));
        tokio::spawn(async move { enqueue_share(&host, &args, &log).await })
    });
    // Run until the parent closes our stdin (or kills us).
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
    if let Some(enqueuer) = enqueuer {
        enqueuer.abort();
    }
    host.stop().await.map_err(|error| error.to_string())?;
    // Listeners run on the host's event thread: once it has told `runner:stop`, every event
    // before it is in the log.
    let _ =
        tokio::task::spawn_blocking(move || stopped_rx.recv_timeout(Duration::from_secs(10))).await;
    if let Some(listener) = listener {
        let _ = tokio::task::spawn_blocking(move || listener.stop()).await;
    }
    log.log(Event::Quit);
    Ok(())
}

fn log_event(log: &HistoryLog, event: &TaskHostEvent) {
    let runner = event.runner_id.clone().unwrap_or_default();
    if event.event_type == HostEventType::RunnerError {
        let text = event.message.clone().unwrap_or_default();
        log.log(Event::Note { text });
        return;
    }
    let Some(task) = &event.task else { return };
    if task.kind != WORK_KIND {
        // A ping (see `work::ping_kind`): not part of the history under test.
        return;
    }
    let (id, attempt) = (task.id.to_string(), task.attempt);
    let line = match event.event_type {
        HostEventType::TaskStarted => Event::Started { id, attempt, runner },
        HostEventType::TaskSucceeded | HostEventType::TaskFailed | HostEventType::TaskCancelled => {
            Event::Finished { id, attempt, status: task.status.as_str().to_owned(), runner }
        }
        HostEventType::TaskRetried => Event::Retried { id, attempt },
        HostEventType::TaskReleased => Event::Released { id, attempt },
        HostEventType::TaskLeaseLost => {
            let owner = task.lease_owner.clone().unwrap_or_else(|| "-".to_owned());
            Event::LeaseLost { id, attempt, owner }
        }
        _ => return,
    };
    log.log(line);
}

/// Enqueues this worker's share in batches, ids `PREFIX-N`. A batch the store fails is tried
/// again; when the retry finds its ids taken, the first try had committed without its answer
/// reaching us: those tasks are logged as stored but unacknowledged.
async fn enqueue_share(host: &TaskHost, args: &WorkerArgs, log: &HistoryLog) {
    let batch = u64::from(args.batch.max(1));
    let mut next = 0u64;
    let mut retried = false;
    while next < args.enqueue {
        let end = (next + batch).min(args.enqueue);
        let tasks: Vec<NewTask> = (next..end)
            .filter_map(|n| TaskId::new(format!("{}-{n}", args.prefix)).ok())
            .map(|id| {
                let options = EnqueueOptions::new().id(id).max_attempts(args.max_attempts);
                NewTask::new(WORK_KIND, args.input.clone()).with_options(options)
            })
            .collect();
        let ids: Vec<String> = tasks
            .iter()
            .filter_map(|task| task.options.id.as_ref())
            .map(|id| id.to_string())
            .collect();
        match host.enqueue_batch(tasks).await {
            Ok(outcomes) => {
                for outcome in outcomes {
                    log.log(Event::Enqueued { id: outcome.task.id.to_string() });
                }
                next = end;
                retried = false;
            }
            Err(error)
                if retried
                    && matches!(
                        error.store_error(),
                        Some(tasks_core::StoreError::InvalidInput(
                            InvalidInput::DuplicateId { .. }
                        ))
                    ) =>
            {
                for id in ids {
                    log.log(Event::Unacknowledged { id });
                }
                next = end;
                retried = false;
            }
            Err(error) => {
                let kind = error.store_error().map(tasks_core::StoreError::kind);
                log.log(Event::Note { text: format!("enqueue failed ({kind:?}): {error}") });
                if kind == Some(StoreErrorKind::InvalidInput) {
                    return;
                }
                retried = true;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
