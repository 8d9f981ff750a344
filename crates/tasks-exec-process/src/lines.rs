//! [`LineReader`]: reads a pipe line by line with a hard cap on how much of one line is kept.
//!
//! A child may print a gigabyte without a newline; the reader keeps the first `max` bytes of
//! such a line, counts and discards the rest, and reports the line as cut. Memory use is the
//! read buffer plus `max`, whatever the child writes.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What the reader knows of the line it just filled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct LineInfo {
    /// The line's full length in bytes, without its newline, including any part not kept.
    pub(crate) total_bytes: u64,
    /// Whether only the first `max` bytes were kept.
    pub(crate) cut: bool,
}

/// Reads lines of at most `max` kept bytes from a buffered pipe.
pub(crate) struct LineReader<R> {
    reader: R,
    max: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub(crate) fn new(reader: R, max: usize) -> Self {
        LineReader { reader, max }
    }

    /// Fills `line` with the next line (without its `\n`) and says how long it really was.
    /// `None` at the end of the stream; a last line without a newline is still returned. A
    /// read error ends the stream too: the child's exit status tells what happened.
    pub(crate) async fn next_line(&mut self, line: &mut Vec<u8>) -> Option<LineInfo> {
        line.clear();
        let mut total: u64 = 0;
        let mut started = false;
        loop {
            let buffer = match self.reader.fill_buf().await {
                Ok(buffer) => buffer,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => &[],
            };
            if buffer.is_empty() {
                return started
                    .then_some(LineInfo { total_bytes: total, cut: total > line.len() as u64 });
            }
            started = true;
            let (chunk, consumed, done) = match buffer.iter().position(|&byte| byte == b'\n') {
                Some(end) => (&buffer[..end], end + 1, true),
                None => (buffer, buffer.len(), false),
            };
            let room = self.max.saturating_sub(line.len());
            line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            total += chunk.len() as u64;
            self.reader.consume(consumed);
            if done {
                return Some(LineInfo { total_bytes: total, cut: total > line.len() as u64 });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all_lines(input: &[u8], max: usize) -> Vec<(Vec<u8>, LineInfo)> {
        let reader = tokio::io::BufReader::with_capacity(4, input);
        let mut lines = LineReader::new(reader, max);
        let mut out = Vec::new();
        let mut line = Vec::new();
        while let Some(info) = lines.next_line(&mut line).await {
            out.push((line.clone(), info));
        }
        out
    }

    #[tokio::test]
    async fn splits_cuts_and_keeps_a_last_line_without_newline() {
        let lines = all_lines(b"ab\n0123456789\n\nlast", 5).await;
        let texts: Vec<&[u8]> = lines.iter().map(|(line, _)| line.as_slice()).collect();
        assert_eq!(texts, vec![&b"ab"[..], b"01234", b"", b"last"]);
        assert_eq!(lines[1].1, LineInfo { total_bytes: 10, cut: true });
        assert_eq!(lines[0].1, LineInfo { total_bytes: 2, cut: false });
        assert!(all_lines(b"", 5).await.is_empty());
    }
}
