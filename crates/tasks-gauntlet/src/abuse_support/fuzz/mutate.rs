//! [`Mutator`]: makes the next input from the corpus. No coverage feedback (that is what
//! cargo-fuzz adds): byte edits, hostile tokens, splices of two inputs, and, for JSON, edits
//! of the parsed document (a leaf swapped for a hostile value, an object or array deepened or
//! widened), so most inputs stay close enough to valid to reach the code behind the parser.
//! Inputs a target accepts join the corpus (up to a bound), so valid variants breed.

use serde_json::{Value, json};

use super::Target;
use super::seeds;
use crate::abuse_support::runtime::Rng;

/// Most inputs kept in the corpus.
const MAX_CORPUS: usize = 512;
/// Most bytes of one generated input, except the rare huge one.
const MAX_INPUT: usize = 64 * 1024;

/// Tokens that break parsers: quotes, escapes, brackets, numbers at the edges, separators and
/// percent escapes of a query string, bytes that are not UTF-8, NUL, surrogate escapes.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"-0",
    b"1e309",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"4294967296",
    b"0.1e-400",
    b"NaN",
    b"\\u0000",
    b"\\ud800",
    b"\\udfff\\ud800",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\0",
    b"\r",
    b"\n",
    b"%",
    b"%zz",
    b"%ff",
    b"%00",
    b"&",
    b"=",
    b"+",
    b";",
    b"'",
    b"\xe2\x80\xae",
    b"\"type\":\"result\"",
    b"\"type\":\"step\"",
    b"\"type\":\"progress\"",
    b"{\"type\":",
    b"channels=",
    b"kinds=",
    b"q=",
    b"cursor=",
    b"limit=",
    b"states=",
    b"taskIds=",
];

/// Hostile JSON values for document edits.
fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(i64::MIN),
        4 => json!(1e300),
        5 => json!(""),
        6 => json!("\u{0}"),
        7 => json!("x".repeat(1 + rng.below(20_000) as usize)),
        8 => json!([]),
        9 => json!({}),
        10 => Value::Array((0..rng.below(200)).map(|n| json!(format!("c:{n}"))).collect()),
        11 => json!("\u{fffd}\u{202e}é"),
        12 => json!(true),
        _ => json!(0.5),
    }
}

/// Makes inputs for one target.
pub(super) struct Mutator {
    rng: Rng,
    corpus: Vec<Vec<u8>>,
    seeds: usize,
}

impl Mutator {
    pub(super) fn new(target: Target, seed: u64) -> Self {
        let corpus = seeds::corpus(target);
        Mutator { rng: Rng::new(seed), seeds: corpus.len(), corpus }
    }

    /// Keeps an input the target accepted, replacing a random bred one when full.
    pub(super) fn keep(&mut self, input: Vec<u8>) {
        if input.len() > MAX_INPUT || self.corpus.contains(&input) {
            return;
        }
        if self.corpus.len() < MAX_CORPUS {
            self.corpus.push(input);
        } else {
            let bred = self.corpus.len() - self.seeds;
            let at = self.seeds + self.rng.below(bred as u64) as usize;
            self.corpus[at] = input;
        }
    }

    /// The next input.
    pub(super) fn next_input(&mut self) -> Vec<u8> {
        if self.corpus.is_empty() {
            return vec![self.rng.below(256) as u8];
        }
        let mut input = self.pick();
        if self.rng.chance(1, 500) {
            return self.huge(input);
        }
        let edits = 1 + self.rng.below(4);
        for _ in 0..edits {
            input = if self.rng.chance(1, 3) {
                self.edit_document(input)
            } else {
                self.edit_bytes(input)
            };
        }
        input.truncate(MAX_INPUT);
        input
    }

    fn pick(&mut self) -> Vec<u8> {
        let at = self.rng.below(self.corpus.len() as u64) as usize;
        self.corpus[at].clone()
    }

    /// One input far over every limit: a long line, a deep nesting or many repeats.
    fn huge(&mut self, input: Vec<u8>) -> Vec<u8> {
        match self.rng.below(3) {
            0 => vec![b'a'; 2 * 1024 * 1024],
            1 => {
                let depth = 100_000;
                let mut deep = b"[".repeat(depth);
                deep.extend(b"]".repeat(depth));
                deep
            }
            _ => input.repeat(2 * 1024 * 1024 / input.len().max(1)),
        }
    }

    fn edit_bytes(&mut self, mut input: Vec<u8>) -> Vec<u8> {
        let len = input.len() as u64;
        let at = self.rng.below(len + 1) as usize;
        match self.rng.below(7) {
            0 if !input.is_empty() => {
                let at = at.min(input.len() - 1);
                input[at] ^= 1 << self.rng.below(8);
            }
            1 => input.insert(at, self.rng.below(256) as u8),
            2 if !input.is_empty() => {
                let end = (at + 1 + self.rng.below(16) as usize).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 => {
                let token = TOKENS[self.rng.below(TOKENS.len() as u64) as usize];
                input.splice(at..at, token.iter().copied());
            }
            4 if !input.is_empty() => {
                let end = (at + 1 + self.rng.below(64) as usize).min(input.len());
                let piece: Vec<u8> = input[at.min(end)..end].to_vec();
                let times = 1 + self.rng.below(64) as usize;
                input.splice(at..at, piece.repeat(times));
            }
            5 => {
                let other = self.pick();
                let from = self.rng.below(other.len() as u64 + 1) as usize;
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            _ => {
                let nesting = 1 + self.rng.below(300) as usize;
                input.splice(at..at, b"[".repeat(nesting));
            }
        }
        input
    }

    /// Parses the input as JSON (each line, for stdout) and edits a random node.
    fn edit_document(&mut self, input: Vec<u8>) -> Vec<u8> {
        let lines: Vec<&[u8]> = input.split(|byte| *byte == b'\n').collect();
        let pick = self.rng.below(lines.len() as u64) as usize;
        let Ok(mut value) = serde_json::from_slice::<Value>(lines[pick]) else {
            return self.edit_bytes(input);
        };
        self.edit_value(&mut value, 0);
        let Ok(edited) = serde_json::to_vec(&value) else { return input };
        let mut out = Vec::with_capacity(input.len() + edited.len());
        for (index, line) in lines.iter().enumerate() {
            if index > 0 {
                out.push(b'\n');
            }
            out.extend_from_slice(if index == pick { &edited } else { line });
        }
        out
    }

    fn edit_value(&mut self, value: &mut Value, depth: usize) {
        let descend = depth < 8 && self.rng.chance(2, 3);
        match value {
            Value::Object(map) if descend && !map.is_empty() => {
                let at = self.rng.below(map.len() as u64) as usize;
                if let Some((_, child)) = map.iter_mut().nth(at) {
                    self.edit_value(child, depth + 1);
                }
            }
            Value::Array(items) if descend && !items.is_empty() => {
                let at = self.rng.below(items.len() as u64) as usize;
                self.edit_value(&mut items[at], depth + 1);
            }
            Value::Object(map) if self.rng.chance(1, 3) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                if let Some(key) = keys.get(self.rng.below(keys.len() as u64 + 1) as usize) {
                    map.remove(key);
                }
                let new = hostile_value(&mut self.rng);
                let name = ["type", "kind", "limit", "channels", "message", "seq", "revision", "x"]
                    [self.rng.below(8) as usize];
                map.insert(name.to_owned(), new);
            }
            _ => {
                *value = if self.rng.chance(1, 4) {
                    let mut deep = hostile_value(&mut self.rng);
                    for _ in 0..self.rng.below(100) {
                        deep = json!([deep]);
                    }
                    deep
                } else {
                    hostile_value(&mut self.rng)
                };
            }
        }
    }
}
