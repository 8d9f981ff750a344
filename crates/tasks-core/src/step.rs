//! Steps: the ordered, persisted log of a task ([`StepRecord`]), what a worker appends
//! ([`NewStep`]), and the open enums [`StepKind`] and [`StepLevel`].
//!
//! Each task numbers its steps 1, 2, 3 … with no gap (`seq`), across attempts; a reader
//! replays from any `seq` it last saw.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::{StepId, TaskId};
use crate::record::JsonObject;
use crate::timestamp::Timestamp;

/// A persisted step of a task.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// The step's id.
    pub id: StepId,
    /// The task it belongs to.
    pub task_id: TaskId,
    /// Its position in the task's log: 1, 2, 3 … with no gap.
    pub seq: u64,
    /// The attempt that wrote it.
    pub attempt: u32,
    /// What sort of step it is.
    pub kind: StepKind,
    /// How important it is.
    pub level: StepLevel,
    /// What happened, for people.
    pub message: String,
    /// Structured details.
    pub meta: Option<JsonObject>,
    /// A progress percent the step stands for, if any.
    pub percent: Option<f64>,
    /// When it was written.
    pub created_at: Timestamp,
}

/// A step a worker (or the host) appends to a task.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewStep {
    /// What sort of step; `step` by default.
    pub kind: StepKind,
    /// How important; `info` by default.
    pub level: StepLevel,
    /// What happened; must not be empty.
    pub message: String,
    /// Structured details.
    pub meta: Option<JsonObject>,
    /// A progress percent the step stands for (0 to 100).
    pub percent: Option<f64>,
}

impl NewStep {
    /// A step of kind `step`, level `info`, with this message.
    pub fn info(message: impl Into<String>) -> Self {
        NewStep { message: message.into(), ..NewStep::default() }
    }

    /// The same step with another level.
    #[must_use]
    pub fn level(mut self, level: StepLevel) -> Self {
        self.level = level;
        self
    }

    /// The same step with another kind.
    #[must_use]
    pub fn kind(mut self, kind: StepKind) -> Self {
        self.kind = kind;
        self
    }

    /// The same step with a percent.
    #[must_use]
    pub fn percent(mut self, percent: f64) -> Self {
        self.percent = Some(percent);
        self
    }

    /// The same step with meta.
    #[must_use]
    pub fn meta(mut self, meta: JsonObject) -> Self {
        self.meta = Some(meta);
        self
    }
}

/// Declares an open string enum: known values, plus `Custom(String)` for anything else, written
/// on the wire as the plain string.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident, default $default:ident, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, Debug)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// Any other value, kept as written.
            Custom(String),
        }

        impl $name {
            /// The wire text.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Custom(text) => text,
                }
            }

            /// Reads a wire text: a known value, else `Custom`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Custom(other.to_owned()),
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok($name::parse(&text))
            }
        }
    };
}

open_enum!(
    /// What sort of step: `step`, `event`, `checkpoint`, `log`, `custom`, or any other string.
    StepKind, default Step, {
        /// An ordinary step of the work.
        Step => "step",
        /// Something that happened to the task (retry, recovery, release).
        Event => "event",
        /// A point the work can be resumed from.
        Checkpoint => "checkpoint",
        /// A log line (a child process's plain output, say).
        Log => "log",
        /// The literal kind `custom`.
        CustomKind => "custom",
    }
);

open_enum!(
    /// How important a step is: `debug`, `info`, `success`, `warn`, `error`, or any other string.
    StepLevel, default Info, {
        /// Detail for developers.
        Debug => "debug",
        /// Normal progress.
        Info => "info",
        /// Something finished well.
        Success => "success",
        /// Something to look at.
        Warn => "warn",
        /// Something failed.
        Error => "error",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_keep_unknown_values() {
        assert_eq!(StepKind::parse("checkpoint"), StepKind::Checkpoint);
        assert_eq!(StepKind::parse("custom"), StepKind::CustomKind);
        assert_eq!(StepKind::parse("upload"), StepKind::Custom("upload".into()));
        let json = serde_json::to_string(&StepLevel::Custom("notice".into())).expect("ok");
        assert_eq!(json, "\"notice\"");
        let level: StepLevel = serde_json::from_str("\"warn\"").expect("ok");
        assert_eq!(level, StepLevel::Warn);
    }

    #[test]
    fn new_step_defaults() {
        let step: NewStep = serde_json::from_str(r#"{"message":"hi"}"#).expect("ok");
        assert_eq!(step.kind, StepKind::Step);
        assert_eq!(step.level, StepLevel::Info);
    }
}
