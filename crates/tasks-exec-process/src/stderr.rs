//! [`StderrTail`]: keeps the last bytes a child wrote to stderr, in bounded memory, for the
//! error message of a failed attempt.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The end of a child's stderr.
pub(crate) struct StderrTail {
    keep: usize,
    bytes: Vec<u8>,
    dropped: bool,
}

impl StderrTail {
    pub(crate) fn new(keep: usize) -> Self {
        StderrTail { keep, bytes: Vec::new(), dropped: false }
    }

    /// Reads `stderr` to its end, keeping the tail.
    pub(crate) async fn read_all<R: AsyncRead + Unpin>(&mut self, mut stderr: R) {
        let mut chunk = vec![0u8; 8 * 1024];
        loop {
            match stderr.read(&mut chunk).await {
                Ok(0) => return,
                Ok(read) => self.push(&chunk[..read]),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        // Trimming only once twice the tail has piled up keeps the copying linear.
        if self.bytes.len() > self.keep.saturating_mul(2) {
            let excess = self.bytes.len() - self.keep;
            self.bytes.drain(..excess);
            self.dropped = true;
        }
    }

    /// The tail as text: at most `keep` bytes, trimmed, invalid UTF-8 replaced, starting at a
    /// character boundary and with `…` in front when the start was cut.
    pub(crate) fn text(&self) -> String {
        let start = self.bytes.len().saturating_sub(self.keep);
        let mut tail = &self.bytes[start..];
        let cut = self.dropped || start > 0;
        if cut {
            // Skip the continuation bytes of a character whose start was cut off.
            let skip = tail.iter().take(3).take_while(|&&byte| byte & 0xC0 == 0x80).count();
            tail = &tail[skip..];
        }
        let text = String::from_utf8_lossy(tail);
        let text = text.trim();
        if cut && !text.is_empty() { format!("…{text}") } else { text.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_end_in_bounded_memory() {
        let mut tail = StderrTail::new(10);
        let input = "é".repeat(1000) + "the end\n";
        tail.read_all(input.as_bytes()).await;
        assert!(tail.bytes.len() <= 20 + 8 * 1024);
        assert_eq!(tail.text(), "…éthe end");
        let mut short = StderrTail::new(100);
        short.read_all(&b"  oops \xff\n"[..]).await;
        assert_eq!(short.text(), "oops \u{fffd}");
    }
}
