//! A `[kinds."NAME"]` section as a host registration: the kind's command run by the process
//! executor, with its concurrency, retry, timeout and lease.

use std::path::Path;

use tasks::host::{HandlerRegistration, RetryPolicy};
use tasks::process::ProcessExecutor;
use toml::Spanned;

use super::file::KindSection;
use super::{Config, backoff};
use crate::error::CliError;

impl Config {
    /// Every kind of the file as a registration; a bad one names its line.
    pub(super) fn build_registrations(&self) -> Result<Vec<HandlerRegistration>, CliError> {
        let mut registrations = Vec::with_capacity(self.file.kinds.len());
        for (name, section) in &self.file.kinds {
            tasks::core::limits::validate_kind(name.get_ref())
                .map_err(|err| self.error_at(name.span(), err))?;
            let registration = self.registration(name.get_ref(), section)?;
            registration.validate().map_err(|err| {
                self.error_at(section.span(), format!("kind {:?}: {err}", name.get_ref()))
            })?;
            registrations.push(registration);
        }
        Ok(registrations)
    }

    fn registration(
        &self,
        name: &str,
        section: &Spanned<KindSection>,
    ) -> Result<HandlerRegistration, CliError> {
        let kind = section.get_ref();
        if kind.program.trim().is_empty() {
            return Err(self.error_at(section.span(), format!("kind {name:?}: program is empty")));
        }
        let mut executor =
            ProcessExecutor::new(self.program(&kind.program)).args(&kind.args).current_dir(
                kind.cwd
                    .as_deref()
                    .map_or_else(|| self.resolve(Path::new(".")), |cwd| self.resolve(cwd)),
            );
        for (variable, value) in &kind.env {
            executor = executor.env(variable, value);
        }
        if let Some(inherit) = &kind.inherit_env {
            executor = executor.env_policy(inherit.policy());
        }
        if let Some(grace) = kind.kill_grace {
            executor = executor.kill_grace(grace.0);
        }
        let mut registration = HandlerRegistration::new(name, executor);
        if let Some(concurrency) = kind.concurrency {
            registration = registration.concurrency(concurrency);
        }
        if let Some(max_active) = kind.max_active {
            registration = registration.max_active(max_active);
        }
        let mut retry = match kind.max_attempts {
            Some(attempts) => RetryPolicy::attempts(attempts),
            None => RetryPolicy::default(),
        };
        if let Some(section) = &kind.backoff {
            retry = retry.backoff(backoff(section));
        }
        registration = registration.retry(retry);
        if let Some(timeout) = kind.timeout {
            registration = registration.timeout(timeout.0);
        }
        if let Some(lease) = kind.lease {
            registration = registration.lease(lease.0);
        }
        Ok(registration)
    }

    /// A program path with a directory part is relative to the config file; a bare name is
    /// looked up in `PATH` by the system.
    fn program(&self, program: &str) -> std::path::PathBuf {
        let path = Path::new(program);
        if path.components().count() > 1 { self.resolve(path) } else { path.to_owned() }
    }
}
