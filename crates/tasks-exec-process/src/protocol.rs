//! The wire messages a child writes on its stdout, one JSON object per line, told apart by
//! their `"type"` field. Both sides use these types: the executor decodes them, the Rust child
//! side ([`crate::child`]) encodes them. The crate README is the language-neutral spec.

use serde::{Deserialize, Serialize};
use tasks_core::{NewStep, ProgressUpdate, TaskError};

/// One line of the protocol.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Message {
    /// `{"type":"progress","percent":40,"label":"encoding","meta":{..}}`: fields left out keep
    /// their value.
    Progress(ProgressUpdate),
    /// `{"type":"step","message":"..","kind":"step","level":"info","meta":{..},"percent":40}`.
    Step(NewStep),
    /// `{"type":"heartbeat"}`: a sign of life.
    Heartbeat,
    /// `{"type":"result","output":..}`: the attempt succeeded with this output.
    Result(ResultMessage),
    /// `{"type":"error","message":"..","name":..,"code":..,"details":..,"retryable":true}`.
    Error(ErrorMessage),
}

/// The body of a `result` line.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultMessage {
    /// The output; `null` when left out.
    pub output: serde_json::Value,
}

/// The body of an `error` line.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorMessage {
    /// What went wrong, for people.
    pub message: String,
    /// A class name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A stable machine-readable code; `cancelled` says the child stopped on SIGTERM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Where it happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Anything else to keep with the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// Whether another attempt may help; `true` when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

impl ErrorMessage {
    /// The message of an error and whether it may be retried.
    pub fn new(error: TaskError, retryable: bool) -> Self {
        ErrorMessage {
            message: error.message,
            name: error.name,
            code: error.code,
            stack: error.stack,
            details: error.details,
            retryable: Some(retryable),
        }
    }

    /// The error it carries (a blank message becomes a generic one) and its retryable flag.
    pub fn into_error(self) -> (TaskError, bool) {
        let message = if self.message.trim().is_empty() {
            "the task failed".to_owned()
        } else {
            self.message
        };
        let error = TaskError {
            message,
            name: self.name,
            code: self.code,
            stack: self.stack,
            details: self.details,
        };
        (error, self.retryable.unwrap_or(true))
    }
}

/// The `"type"` values this protocol knows.
pub const MESSAGE_TYPES: [&str; 5] = ["progress", "step", "heartbeat", "result", "error"];

/// How a stdout line reads.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A protocol message.
    Message(Message),
    /// A JSON object whose `type` is a protocol type, but whose fields do not fit it.
    Malformed {
        /// The type it claimed.
        kind: String,
        /// What did not fit.
        reason: String,
    },
    /// A line that no JSON reader takes (nested too deep, say) but whose start looks like a
    /// `result` message (see [`looks_like_result`]).
    UnreadableResult {
        /// Why the JSON reader refused it.
        reason: String,
    },
    /// Anything else: a plain line.
    Plain,
}

/// Reads one stdout line (already trimmed of its line ending).
pub(crate) fn decode(line: &str) -> Decoded {
    // Only a line that looks like an object is worth a JSON parse: plain output is the common
    // case of a flood and stays cheap.
    if !line.trim_start().starts_with('{') {
        return Decoded::Plain;
    }
    // A line that starts with `{` and parses is always an object.
    let object = match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => return Decoded::Plain,
        // Only for a line no reader takes is its type guessed from the text: a valid line's
        // type is its top-level `type` field, never a nested one.
        Err(error) if looks_like_result(line.as_bytes()) => {
            return Decoded::UnreadableResult { reason: error.to_string() };
        }
        Err(_) => return Decoded::Plain,
    };
    let kind = match object.get("type") {
        Some(serde_json::Value::String(kind)) if MESSAGE_TYPES.contains(&kind.as_str()) => {
            kind.clone()
        }
        _ => return Decoded::Plain,
    };
    match serde_json::from_value::<Message>(serde_json::Value::Object(object)) {
        Ok(message) => Decoded::Message(message),
        Err(error) => Decoded::Malformed { kind, reason: error.to_string() },
    }
}

/// Whether the first bytes of a line that cannot be parsed (cut at the limit, or refused by
/// the JSON reader) look like a `result` message, so such a result fails the attempt instead
/// of passing for a plain line. A guess from the text: it takes a `"type":"result"` pair at
/// any depth of an object, as broken JSON cannot be read for its top-level fields.
pub(crate) fn looks_like_result(head: &[u8]) -> bool {
    let head = &head[..head.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start();
    if !text.starts_with('{') {
        return false;
    }
    let mut rest = &text[1..];
    while let Some(at) = rest.find("\"type\"") {
        let after = rest[at + 6..].trim_start();
        if let Some(value) = after.strip_prefix(':')
            && value.trim_start().starts_with("\"result\"")
        {
            return true;
        }
        rest = &rest[at + 6..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tasks_core::StepKind;

    #[test]
    fn decodes_every_type() {
        let cases = [
            r#"{"type":"progress","percent":40,"label":"x"}"#,
            r#"{"type":"step","message":"m","kind":"checkpoint"}"#,
            r#"{"type":"heartbeat"}"#,
            r#"{"type":"result","output":{"a":1}}"#,
            r#"{"type":"error","message":"bad","retryable":false,"extra":1}"#,
        ];
        let decoded: Vec<Message> = cases
            .iter()
            .map(|line| match decode(line) {
                Decoded::Message(message) => message,
                other => panic!("{line}: {other:?}"),
            })
            .collect();
        assert_eq!(decoded[0], Message::Progress(ProgressUpdate::percent(40.0).label("x")));
        assert!(matches!(&decoded[1], Message::Step(step) if step.kind == StepKind::Checkpoint));
        assert_eq!(decoded[2], Message::Heartbeat);
        assert_eq!(decoded[3], Message::Result(ResultMessage { output: json!({"a": 1}) }));
        let Message::Error(error) = &decoded[4] else { panic!("error") };
        assert!(!error.clone().into_error().1);
    }

    #[test]
    fn plain_and_malformed_lines() {
        for plain in ["hello", "{not json", r#"{"type":"other"}"#, r#"{"a":1}"#, "[1]", "42"] {
            assert!(matches!(decode(plain), Decoded::Plain), "{plain}");
        }
        assert!(matches!(
            decode(r#"{"type":"progress","percent":"forty"}"#),
            Decoded::Malformed { .. }
        ));
    }

    #[test]
    fn encodes_a_result_line() {
        let line = serde_json::to_string(&Message::Result(ResultMessage { output: json!(1) }))
            .expect("encodes");
        assert_eq!(line, r#"{"type":"result","output":1}"#);
        let (error, retryable) = ErrorMessage::default().into_error();
        assert!(retryable);
        assert!(!error.message.is_empty());
    }

    #[test]
    fn only_an_unparsable_line_is_guessed_a_result() {
        for valid in [
            r#"{"type":"log","message":"x","payload":{"type":"result"}}"#,
            r#"{"note":{"type":"result"}}"#,
        ] {
            assert!(matches!(decode(valid), Decoded::Plain), "{valid}");
        }
        let deep =
            format!(r#"{{"type":"result","output":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        assert!(matches!(decode(&deep), Decoded::UnreadableResult { .. }));
    }

    #[test]
    fn spots_a_cut_result() {
        assert!(looks_like_result(br#"{"type":"result","output":"xxxx"#));
        assert!(looks_like_result(br#"  { "output": "x", "type" : "result", "#));
        assert!(!looks_like_result(br#"{"type":"step","message":"result"#));
        assert!(!looks_like_result(b"plain result"));
    }
}
