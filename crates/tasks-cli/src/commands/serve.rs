//! `tasks serve`: the live web dashboard and its JSON API over any store, from a process that
//! need not run workers. Loopback by default; any other address needs a token, because the
//! dashboard can cancel and retry tasks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use tasks::core::TaskStore;
use tasks_dashboard::{DashboardError, DashboardOptions};

use crate::config::duration;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{print_json_line, write_stdout};
use crate::runtime::{StopSignals, block_on};

/// Options of `tasks serve` (and of `tasks demo --serve`).
#[derive(Args, Debug, Clone)]
pub(crate) struct ServeArgs {
    /// The address to listen on; port 0 picks a free port (the address is printed)
    #[arg(long, default_value = "127.0.0.1:7600", value_name = "ADDR")]
    bind: SocketAddr,
    /// Require this token on every request [env: TASKS_DASHBOARD_TOKEN]
    #[arg(long, env = "TASKS_DASHBOARD_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    token: Option<String>,
    /// How often the store's change feed is read
    #[arg(long, default_value = "100ms", value_name = "DURATION", value_parser = duration::parse)]
    poll: Duration,
}

pub(crate) fn run(args: ServeArgs, context: &Context) -> Result<(), CliError> {
    args.check_bind()?;
    let (_, store) = context.open_store()?;
    let shared = store.as_arc().clone();
    let result = block_on(serve(shared, args, context.json()));
    // The store outlives the runtime (see `block_on`).
    drop(store);
    result
}

impl ServeArgs {
    /// Refuses an address beyond loopback without a token, before anything is opened.
    pub(crate) fn check_bind(&self) -> Result<(), CliError> {
        if !self.bind.ip().is_loopback() && self.token.is_none() {
            return Err(CliError::usage(format!(
                "serving on {} (not loopback) needs --token or TASKS_DASHBOARD_TOKEN",
                self.bind
            )));
        }
        Ok(())
    }
}

/// Serves the dashboard over `store` until SIGINT or SIGTERM, on an address the caller has
/// checked with [`ServeArgs::check_bind`]. Must run inside the runtime.
pub(crate) async fn serve(
    store: Arc<dyn TaskStore>,
    args: ServeArgs,
    json: bool,
) -> Result<(), CliError> {
    let mut options = DashboardOptions::new().poll_interval(args.poll);
    if let Some(token) = &args.token {
        options = options.token(token.clone());
    }
    let mut signals = StopSignals::listen()?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|err| CliError::runtime(format!("cannot listen on {}: {err}", args.bind)))?;
    let address = listener.local_addr()?;
    let url = match &args.token {
        Some(token) => format!("http://{address}/?token={token}"),
        None => format!("http://{address}/"),
    };
    if json {
        print_json_line(&json!({ "dashboard": url, "address": address.to_string() }))?;
    } else {
        write_stdout(&format!("dashboard: {url} (Ctrl-C stops it)"))?;
    }
    let shutdown = async move {
        signals.recv().await;
    };
    tasks_dashboard::serve(store, listener, options, shutdown).await.map_err(dashboard_error)
}

fn dashboard_error(error: DashboardError) -> CliError {
    CliError::runtime(format!("the dashboard failed: {error}"))
}
