//! [`TaskHostBuilder`]: a host from a store, handler registrations, runner options and a clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use tasks_core::{Clock, SeededRandom, SystemClock, TaskId, TaskStore};
use tokio::sync::Notify;

use crate::blocking::StoreCaller;
use crate::burst::FinishWriter;
use crate::error::HostError;
use crate::events::EventBus;
use crate::host::TaskHost;
use crate::inner::Inner;
use crate::lifecycle::RunState;
use crate::options::RunnerOptions;
use crate::registration::HandlerRegistration;
use crate::slots::Slots;
use crate::wake::ClaimWaker;

/// Builds a [`TaskHost`].
pub struct TaskHostBuilder {
    store: Arc<dyn TaskStore>,
    options: RunnerOptions,
    handlers: Vec<HandlerRegistration>,
    clock: Arc<dyn Clock>,
    seed: Option<u64>,
}

impl TaskHostBuilder {
    pub(crate) fn new(store: Arc<dyn TaskStore>) -> Self {
        TaskHostBuilder {
            store,
            options: RunnerOptions::default(),
            handlers: Vec::new(),
            clock: Arc::new(SystemClock),
            seed: None,
        }
    }

    /// The runner options (defaults otherwise).
    #[must_use]
    pub fn options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// Registers a kind. A later registration of the same kind replaces the earlier one.
    #[must_use]
    pub fn handler(mut self, registration: HandlerRegistration) -> Self {
        self.handlers.push(registration);
        self
    }

    /// The clock every deadline is judged by ([`SystemClock`] otherwise). Tests pass a
    /// [`ManualClock`](tasks_core::ManualClock) and move time by hand; the host's own timers
    /// (poll, heartbeat, flush, timeouts) still run on real time.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Seeds the retry jitter, for reproducible delays (from the system otherwise).
    #[must_use]
    pub fn random_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Builds the host (it does not start).
    ///
    /// # Errors
    ///
    /// [`HostError::Config`] naming the first invalid option or registration.
    pub fn build(self) -> Result<TaskHost, HostError> {
        self.options.validate()?;
        let mut handlers = HashMap::new();
        for registration in self.handlers {
            registration.validate()?;
            handlers.insert(registration.kind.clone(), Arc::new(registration));
        }
        let runner_id = self.options.runner_id.clone().unwrap_or_else(|| {
            format!("runner-{}-{}", std::process::id(), TaskId::generate().as_str())
        });
        let random = self.seed.map_or_else(SeededRandom::from_entropy, SeededRandom::new);
        let inner = Inner {
            runner_id,
            options: self.options,
            store: StoreCaller::new(self.store, self.clock),
            handlers: RwLock::new(handlers),
            events: EventBus::default(),
            waker: ClaimWaker::new(),
            slots: Mutex::new(Slots::default()),
            finishes: FinishWriter::default(),
            running: Mutex::new(HashMap::new()),
            drained: Notify::new(),
            random: Mutex::new(random),
            stopping: AtomicBool::new(false),
            claims_answered: AtomicU64::new(0),
            run: Mutex::new(RunState::new()),
        };
        Ok(TaskHost { inner: Arc::new(inner) })
    }
}
