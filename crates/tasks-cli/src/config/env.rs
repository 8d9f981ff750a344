//! `inherit_env` in the config file: which of the worker's environment variables a kind's
//! child processes inherit: `"non-secret"` (the default), `"all"`, `"none"`, or a list of
//! names.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use tasks::process::EnvPolicy;

/// The `inherit_env` setting.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum InheritEnv {
    /// Everything but names that look like secrets.
    NonSecret,
    /// Everything.
    All,
    /// Nothing.
    None,
    /// Only these names.
    Only(Vec<String>),
}

impl InheritEnv {
    /// The process executor's policy.
    pub(crate) fn policy(&self) -> EnvPolicy {
        match self {
            InheritEnv::NonSecret => EnvPolicy::InheritNonSecret,
            InheritEnv::All => EnvPolicy::InheritAll,
            InheritEnv::None => EnvPolicy::Clear,
            InheritEnv::Only(names) => EnvPolicy::allow(names.iter().map(String::as_str)),
        }
    }
}

impl<'de> Deserialize<'de> for InheritEnv {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(InheritVisitor)
    }
}

struct InheritVisitor;

impl<'de> Visitor<'de> for InheritVisitor {
    type Value = InheritEnv;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"non-secret\", \"all\", \"none\" or a list of variable names")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<InheritEnv, E> {
        match text {
            "non-secret" => Ok(InheritEnv::NonSecret),
            "all" => Ok(InheritEnv::All),
            "none" => Ok(InheritEnv::None),
            other => Err(E::custom(format!(
                "unknown inherit_env {other:?}: use \"non-secret\", \"all\", \"none\" or a list of names"
            ))),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<InheritEnv, A::Error> {
        let mut names = Vec::new();
        while let Some(name) = seq.next_element::<String>()? {
            names.push(name);
        }
        Ok(InheritEnv::Only(names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        inherit_env: InheritEnv,
    }

    fn read(text: &str) -> Result<InheritEnv, String> {
        toml::from_str::<Holder>(text).map(|holder| holder.inherit_env).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_every_form() {
        assert_eq!(read("inherit_env = \"all\""), Ok(InheritEnv::All));
        assert_eq!(read("inherit_env = \"none\""), Ok(InheritEnv::None));
        assert_eq!(read("inherit_env = \"non-secret\""), Ok(InheritEnv::NonSecret));
        assert_eq!(read("inherit_env = [\"PATH\"]"), Ok(InheritEnv::Only(vec!["PATH".into()])));
        assert!(read("inherit_env = \"some\"").is_err_and(|e| e.contains("unknown inherit_env")));
    }
}
