//! [`Proxy`]: a small TCP proxy between a host and PostgreSQL that a scenario can stall (bytes
//! stop moving in both directions, connections stay open: a network that silently drops
//! packets) and cut (every connection is closed and new ones are refused: a network that
//! answers with resets), then let flow again.
//!
//! Each connection has two pump threads, one per direction. A pump that holds bytes while the
//! proxy is stalled keeps them until it flows again (nothing is lost or reordered, as TCP would
//! retransmit), or drops them with the connection when the proxy is cut.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::Violation;

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Bytes move.
    Flow,
    /// Bytes wait (connections stay open; new ones are accepted but carry nothing).
    Stall,
    /// Connections are closed at once, new ones too.
    Cut,
}

impl Mode {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Mode::Flow,
            1 => Mode::Stall,
            _ => Mode::Cut,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Mode::Flow => 0,
            Mode::Stall => 1,
            Mode::Cut => 2,
        }
    }
}

struct Shared {
    upstream: SocketAddr,
    mode: AtomicU8,
    closing: AtomicBool,
    /// Both ends of every open connection, to close them on a cut.
    open: Mutex<Vec<(TcpStream, TcpStream)>>,
    accepted: AtomicU64,
    bytes: AtomicU64,
}

impl Shared {
    fn mode(&self) -> Mode {
        Mode::from_u8(self.mode.load(Ordering::SeqCst))
    }
}

/// A running proxy on a free port of 127.0.0.1.
pub struct Proxy {
    shared: Arc<Shared>,
    local: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("local", &self.local)
            .field("upstream", &self.shared.upstream)
            .field("mode", &self.shared.mode())
            .finish()
    }
}

/// How often a pump or the acceptor looks at the mode while waiting.
const TICK: Duration = Duration::from_millis(10);

impl Proxy {
    /// Starts a proxy to `upstream`, flowing.
    ///
    /// # Errors
    ///
    /// No port could be bound.
    pub fn start(upstream: SocketAddr) -> Result<Self, Violation> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            mode: AtomicU8::new(Mode::Flow.as_u8()),
            closing: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        });
        let acceptor_shared = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name("gauntlet-proxy".into())
            .spawn(move || accept_loop(&listener, &acceptor_shared))?;
        Ok(Proxy { shared, local, acceptor: Some(acceptor) })
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// `url` pointed at the proxy: its `host:port` (as `upstream_host` and the upstream port)
    /// replaced by the proxy's `127.0.0.1:port`.
    ///
    /// # Errors
    ///
    /// The URL does not spell the upstream as `host:port`.
    pub fn url_for(&self, url: &str, upstream_host: &str) -> Result<String, Violation> {
        let upstream = format!("{upstream_host}:{}", self.shared.upstream.port());
        if !url.contains(&upstream) {
            return Err(Violation(format!(
                "the server URL does not spell its address as {upstream}: cannot point it at \
                 the proxy"
            )));
        }
        Ok(url.replacen(&upstream, &format!("127.0.0.1:{}", self.port()), 1))
    }

    /// Switches the mode; a cut closes every open connection at once.
    pub fn set(&self, mode: Mode) {
        self.shared.mode.store(mode.as_u8(), Ordering::SeqCst);
        if mode == Mode::Cut {
            let open = std::mem::take(
                &mut *self.shared.open.lock().unwrap_or_else(PoisonError::into_inner),
            );
            for (client, server) in open {
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
            }
        }
    }

    /// The mode now.
    pub fn mode(&self) -> Mode {
        self.shared.mode()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Bytes carried so far, both ways.
    pub fn bytes(&self) -> u64 {
        self.shared.bytes.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.set(Mode::Cut);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.closing.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                thread::sleep(TICK);
                continue;
            }
            Err(_) => continue,
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.mode() == Mode::Cut {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let _ = client.set_nonblocking(false);
        let shared = Arc::clone(shared);
        // The upstream connection is made by the connection's own thread: while stalled, it
        // waits there (the client sees an accepted connection that says nothing).
        let _ = thread::Builder::new()
            .name("gauntlet-proxy-conn".into())
            .spawn(move || connect_and_pump(client, &shared));
    }
}

fn connect_and_pump(client: TcpStream, shared: &Arc<Shared>) {
    loop {
        match shared.mode() {
            Mode::Flow => break,
            Mode::Stall if !shared.closing.load(Ordering::SeqCst) => thread::sleep(TICK),
            _ => {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        }
    }
    let Ok(server) = TcpStream::connect(shared.upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(client_read), Ok(server_read), Ok(client_keep), Ok(server_keep)) =
        (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone())
    else {
        return;
    };
    shared.open.lock().unwrap_or_else(PoisonError::into_inner).push((client_keep, server_keep));
    let up = Arc::clone(shared);
    let _ = thread::Builder::new()
        .name("gauntlet-proxy-up".into())
        .spawn(move || pump(client_read, server, &up));
    pump(server_read, client, shared);
}

/// Moves bytes from `from` to `to` until either side closes or the proxy is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let _ = from.set_read_timeout(Some(TICK * 5));
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        // While stalled, read nothing: the sender's bytes wait in the kernel's buffers.
        while shared.mode() == Mode::Stall && !shared.closing.load(Ordering::SeqCst) {
            thread::sleep(TICK);
        }
        if shared.mode() == Mode::Cut {
            break;
        }
        let read = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => break,
        };
        // Bytes read just before a stall wait for the flow, as a retransmission would.
        while shared.mode() == Mode::Stall && !shared.closing.load(Ordering::SeqCst) {
            thread::sleep(TICK);
        }
        if shared.mode() == Mode::Cut || to.write_all(&buffer[..read]).is_err() {
            break;
        }
        shared.bytes.fetch_add(read as u64, Ordering::SeqCst);
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free port.
    fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bound");
        let address = listener.local_addr().expect("an address");
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut stream = stream;
                    let mut buffer = [0u8; 1024];
                    while let Ok(read) = stream.read(&mut buffer) {
                        if read == 0 || stream.write_all(&buffer[..read]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        address
    }

    fn round_trip(stream: &mut TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(text)?;
        let mut back = vec![0u8; text.len()];
        stream.read_exact(&mut back)?;
        Ok(back)
    }

    #[test]
    fn flows_stalls_without_losing_bytes_and_cuts() {
        let proxy = Proxy::start(echo()).expect("started");
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port())).expect("connected");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("a timeout");
        assert_eq!(round_trip(&mut stream, b"one").expect("echoed"), b"one");

        proxy.set(Mode::Stall);
        stream.set_read_timeout(Some(Duration::from_millis(300))).expect("a timeout");
        stream.write_all(b"two").expect("written");
        let mut back = [0u8; 3];
        let stalled = stream.read(&mut back);
        assert!(stalled.is_err(), "nothing comes back while stalled: {stalled:?}");
        proxy.set(Mode::Flow);
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("a timeout");
        stream.read_exact(&mut back).expect("the held bytes arrive");
        assert_eq!(&back, b"two");

        proxy.set(Mode::Cut);
        let cut = round_trip(&mut stream, b"three");
        assert!(cut.is_err(), "a cut connection carries nothing: {cut:?}");
        let mut fresh = TcpStream::connect(("127.0.0.1", proxy.port())).expect("accepted");
        fresh.set_read_timeout(Some(Duration::from_secs(30))).expect("a timeout");
        let refused = round_trip(&mut fresh, b"four");
        assert!(refused.is_err(), "a new connection carries nothing while cut");

        proxy.set(Mode::Flow);
        let mut again = TcpStream::connect(("127.0.0.1", proxy.port())).expect("connected");
        again.set_read_timeout(Some(Duration::from_secs(30))).expect("a timeout");
        assert_eq!(round_trip(&mut again, b"five").expect("echoed"), b"five");
        assert!(proxy.accepted() >= 3);
    }
}
