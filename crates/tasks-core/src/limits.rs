//! Input limits and the validators that enforce them.
//!
//! Every store validates through these functions, so the same input is refused the same way
//! everywhere and a refusal never reaches the database. The limits are constants on purpose:
//! they keep index entries small and documents bounded, and a store written by a third party
//! gets them for free.

use std::io;

use crate::error::InvalidInput;

/// Longest task kind, in bytes.
pub const MAX_KIND_LEN: usize = 128;
/// Longest dedupe, concurrency or supersede key, in bytes (well below B-tree entry limits).
pub const MAX_KEY_LEN: usize = 512;
/// Longest channel name, in bytes.
pub const MAX_CHANNEL_LEN: usize = 256;
/// Most channels on one task.
pub const MAX_CHANNELS: usize = 32;
/// Largest serialized input or output, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Largest serialized metadata, progress meta, step meta or error details, in bytes.
pub const MAX_META_BYTES: usize = 64 * 1024;
/// Longest step message, progress label, reason or runner id, in bytes.
pub const MAX_TEXT_LEN: usize = 16 * 1024;
/// Deepest nesting of any JSON document.
pub const MAX_JSON_DEPTH: usize = 64;
/// Most tasks (or steps) one list read returns.
pub const MAX_PAGE_LIMIT: u32 = 10_000;
/// Page size when a query gives none.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;

fn cut(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Checks a task kind: 1 to [`MAX_KIND_LEN`] bytes of `A-Z a-z 0-9 _ - . : /`.
///
/// # Errors
///
/// [`InvalidInput::Kind`] naming the problem.
pub fn validate_kind(kind: &str) -> Result<(), InvalidInput> {
    let reason = if kind.is_empty() {
        "it is empty"
    } else if kind.len() > MAX_KIND_LEN {
        "it is longer than 128 bytes"
    } else if !kind.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c)) {
        "use only A-Z a-z 0-9 _ - . : /"
    } else {
        return Ok(());
    };
    Err(InvalidInput::Kind { kind: cut(kind), reason })
}

/// Checks a dedupe, concurrency or supersede key: not empty, at most [`MAX_KEY_LEN`] bytes, no
/// control characters.
///
/// # Errors
///
/// [`InvalidInput::Key`] naming the field.
pub fn validate_key(field: &'static str, key: &str) -> Result<(), InvalidInput> {
    let reason = if key.is_empty() {
        "it is empty"
    } else if key.len() > MAX_KEY_LEN {
        "it is longer than 512 bytes"
    } else if key.chars().any(char::is_control) {
        "it holds control characters"
    } else {
        return Ok(());
    };
    Err(InvalidInput::Key { field, reason })
}

/// Checks a free text field (label, message, reason, runner id): at most [`MAX_TEXT_LEN`]
/// bytes; when `required`, not empty.
///
/// # Errors
///
/// [`InvalidInput::Text`] naming the field.
pub fn validate_text(field: &'static str, text: &str, required: bool) -> Result<(), InvalidInput> {
    if required && text.trim().is_empty() {
        return Err(InvalidInput::Text { field, reason: "it is empty" });
    }
    if text.len() > MAX_TEXT_LEN {
        return Err(InvalidInput::Text { field, reason: "it is longer than 16 KiB" });
    }
    Ok(())
}

/// Checks a percent: finite, from 0 to 100.
///
/// # Errors
///
/// [`InvalidInput::Percent`].
pub fn validate_percent(value: f64) -> Result<(), InvalidInput> {
    if value.is_finite() && (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(InvalidInput::Percent { value })
    }
}

/// A valid percent as every store keeps it: `-0.0` becomes `0.0`. SQLite keeps no negative
/// zero, so without this one store would read back `0.0` where another kept `-0.0`, and the
/// JSON of the same task would differ between stores.
pub fn stored_percent(value: f64) -> f64 {
    // IEEE 754: -0.0 + 0.0 is +0.0, and adding zero leaves every other value as it was.
    value + 0.0
}

/// Checks a JSON document's nesting depth and serialized size.
///
/// The depth is checked first and without recursion, so a hostile, deeply nested value can
/// neither overflow the stack here nor in the serializer that measures its size.
///
/// # Errors
///
/// [`InvalidInput::TooDeep`] or [`InvalidInput::TooLarge`] naming the field.
pub fn validate_json(
    field: &'static str,
    value: &serde_json::Value,
    max_bytes: usize,
) -> Result<(), InvalidInput> {
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_JSON_DEPTH {
            return Err(InvalidInput::TooDeep { field, limit: MAX_JSON_DEPTH });
        }
        match value {
            serde_json::Value::Array(items) => {
                stack.extend(items.iter().map(|item| (item, depth + 1)));
            }
            serde_json::Value::Object(map) => {
                stack.extend(map.values().map(|item| (item, depth + 1)));
            }
            _ => {}
        }
    }
    let size = serialized_size(value, max_bytes);
    if size > max_bytes {
        return Err(InvalidInput::TooLarge { field, size, limit: max_bytes });
    }
    Ok(())
}

/// Checks an optional JSON object (metadata, meta).
///
/// # Errors
///
/// As [`validate_json`].
pub fn validate_object(
    field: &'static str,
    object: Option<&crate::JsonObject>,
    max_bytes: usize,
) -> Result<(), InvalidInput> {
    match object {
        // Wrapping the map in a Value needs a clone; measuring its entries avoids it.
        Some(map) => {
            let mut size = 2usize;
            for (key, value) in map {
                validate_json(field, value, max_bytes)?;
                size = size.saturating_add(key.len() + 4 + serialized_size(value, max_bytes));
                if size > max_bytes {
                    return Err(InvalidInput::TooLarge { field, size, limit: max_bytes });
                }
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// Checks a page limit: from 1 to [`MAX_PAGE_LIMIT`].
///
/// # Errors
///
/// [`InvalidInput::Range`].
pub fn validate_page_limit(field: &'static str, limit: Option<u32>) -> Result<u32, InvalidInput> {
    match limit {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(limit) if (1..=MAX_PAGE_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(InvalidInput::Range { field, expected: "from 1 to 10000" }),
    }
}

/// The serialized size of a value, counting no further than just past `cap` bytes.
fn serialized_size(value: &serde_json::Value, cap: usize) -> usize {
    struct Counter {
        bytes: usize,
        cap: usize,
    }
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.bytes += buf.len();
            if self.bytes > self.cap {
                // Stop serializing a huge document as soon as it is known to be too big.
                return Err(io::Error::other("over the cap"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { bytes: 0, cap };
    let _ = serde_json::to_writer(&mut counter, value);
    counter.bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds() {
        assert!(validate_kind("report.generate").is_ok());
        assert!(validate_kind("a/b:c-d_e").is_ok());
        for bad in ["", "has space", "é", &"k".repeat(MAX_KIND_LEN + 1)] {
            assert!(matches!(validate_kind(bad), Err(InvalidInput::Kind { .. })), "{bad:?}");
        }
    }

    #[test]
    fn json_depth_and_size() {
        let mut deep = json!(1);
        for _ in 0..MAX_JSON_DEPTH {
            deep = json!([deep]);
        }
        assert_eq!(
            validate_json("input", &deep, MAX_PAYLOAD_BYTES),
            Err(InvalidInput::TooDeep { field: "input", limit: MAX_JSON_DEPTH })
        );
        let big = json!("x".repeat(100));
        assert!(matches!(
            validate_json("input", &big, 50),
            Err(InvalidInput::TooLarge { field: "input", .. })
        ));
        assert!(validate_json("input", &big, 200).is_ok());
    }

    #[test]
    fn percents_and_limits() {
        assert!(validate_percent(0.0).is_ok());
        assert!(validate_percent(100.0).is_ok());
        for bad in [-0.1, 100.5, f64::NAN, f64::INFINITY] {
            assert!(validate_percent(bad).is_err());
        }
        assert_eq!(validate_page_limit("limit", None), Ok(DEFAULT_PAGE_LIMIT));
        assert!(validate_page_limit("limit", Some(0)).is_err());
        assert!(validate_page_limit("limit", Some(MAX_PAGE_LIMIT + 1)).is_err());
    }
}
