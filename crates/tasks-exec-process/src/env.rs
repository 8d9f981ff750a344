//! [`EnvPolicy`]: which of the host's environment variables a child sees, and
//! [`is_secret_name`], the rule that keeps secret-looking variables out by default.
//!
//! Variables set on the executor itself ([`crate::ProcessExecutor::env`]) and the task
//! variables (`TASKS_TASK_ID`, `TASKS_TASK_KIND`, `TASKS_ATTEMPT`, `TASKS_MAX_ATTEMPTS`) are
//! added after the policy, whatever it is.

use std::ffi::{OsStr, OsString};

/// Which of the host's environment variables a child inherits.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub enum EnvPolicy {
    /// Every variable except those whose names look like secrets ([`is_secret_name`]). The
    /// default: a task program should not see the host's database password by accident.
    #[default]
    InheritNonSecret,
    /// Every variable, secrets included.
    InheritAll,
    /// None: the child sees only the variables set on the executor.
    Clear,
    /// Only these variables (when the host has them), secret-looking or not: listing a name is
    /// a deliberate choice.
    Allow(Vec<String>),
}

impl EnvPolicy {
    /// Only the named variables.
    pub fn allow<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EnvPolicy::Allow(names.into_iter().map(Into::into).collect())
    }

    /// The variables a child gets from `host` (the host's environment) under this policy.
    pub fn select<I>(&self, host: I) -> Vec<(OsString, OsString)>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        match self {
            EnvPolicy::InheritAll => host.into_iter().collect(),
            EnvPolicy::InheritNonSecret => {
                host.into_iter().filter(|(name, _)| !is_secret_name(name)).collect()
            }
            EnvPolicy::Clear => Vec::new(),
            EnvPolicy::Allow(names) => host
                .into_iter()
                .filter(|(name, _)| names.iter().any(|allowed| OsStr::new(allowed) == name))
                .collect(),
        }
    }
}

/// The parts of a variable name that mark it as a secret, compared without regard to case:
/// a name containing any of them is kept from a child under [`EnvPolicy::InheritNonSecret`].
pub const SECRET_NAME_PARTS: [&str; 10] = [
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "ACCESS_KEY",
    "DATABASE_URL",
];

/// Whether a variable name looks like it holds a secret: its upper-cased name contains one of
/// [`SECRET_NAME_PARTS`] (`AWS_SECRET_ACCESS_KEY`, `GITHUB_TOKEN`, `PGPASSWORD`,
/// `DATABASE_URL`, `my_api_key`...). A name that is not valid Unicode is
/// compared through its lossy conversion.
pub fn is_secret_name(name: &OsStr) -> bool {
    let upper = name.to_string_lossy().to_ascii_uppercase();
    SECRET_NAME_PARTS.iter().any(|part| upper.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(names: &[&str]) -> Vec<(OsString, OsString)> {
        names.iter().map(|name| (OsString::from(name), OsString::from("v"))).collect()
    }

    fn names(selected: Vec<(OsString, OsString)>) -> Vec<String> {
        selected.into_iter().map(|(name, _)| name.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn secret_names() {
        for secret in [
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_TOKEN",
            "PGPASSWORD",
            "MYSQL_PWD_PASSWD",
            "stripe_api_key",
            "OPENAI_APIKEY",
            "SSH_PRIVATE_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "AWS_ACCESS_KEY_ID",
            "DATABASE_URL",
        ] {
            assert!(is_secret_name(OsStr::new(secret)), "{secret}");
        }
        for plain in
            ["PATH", "HOME", "LANG", "RUST_LOG", "TASKS_TASK_ID", "KEYBOARD", "GIT_AUTHOR_NAME"]
        {
            assert!(!is_secret_name(OsStr::new(plain)), "{plain}");
        }
    }

    #[test]
    fn policies_select() {
        let host = vars(&["PATH", "GITHUB_TOKEN", "HOME"]);
        assert_eq!(names(EnvPolicy::default().select(host.clone())), vec!["PATH", "HOME"]);
        assert_eq!(names(EnvPolicy::InheritAll.select(host.clone())).len(), 3);
        assert!(EnvPolicy::Clear.select(host.clone()).is_empty());
        let allowed = EnvPolicy::allow(["GITHUB_TOKEN", "MISSING"]).select(host);
        assert_eq!(names(allowed), vec!["GITHUB_TOKEN"]);
    }
}
