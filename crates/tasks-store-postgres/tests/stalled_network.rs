//! A stalled network (bytes stop, connections stay open) cannot block a call past the
//! response timeout: connecting to a server that never answers the handshake fails as
//! unreachable, a call on a session whose server went silent fails as unavailable, and the
//! store works again once the network does. Found by the gauntlet's `net-stall` scenario: the
//! synchronous client waited forever.
//!
//! Each call runs on a thread of its own with a generous deadline, so a regression fails the
//! test instead of hanging it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::json;
use tasks_core::{EnqueueOptions, NewTask, StoreErrorKind, TaskId, TaskStore, Timestamp};
use tasks_store_postgres::testing;
use tasks_store_postgres::{PostgresErrorKind, PostgresStoreOptions, PostgresTaskStore};

/// How long a test waits for a call that must end within the (short) response timeout.
const PATIENCE: Duration = Duration::from_secs(60);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// Runs `call` on its own thread; `None` when it did not return within [`PATIENCE`].
fn bounded<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(call());
    });
    receiver.recv_timeout(PATIENCE).ok()
}

/// A pass-through TCP proxy that stops moving bytes while `stalled` is set.
fn proxy(upstream: SocketAddr, stalled: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("an address").port();
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(upstream) else { continue };
            let pairs = [
                (client.try_clone().expect("clone"), server.try_clone().expect("clone")),
                (server, client),
            ];
            for (mut from, mut to) in pairs {
                let stalled = Arc::clone(&stalled);
                thread::spawn(move || {
                    let mut buffer = [0u8; 16 * 1024];
                    loop {
                        while stalled.load(Ordering::SeqCst) {
                            thread::sleep(Duration::from_millis(10));
                        }
                        match from.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(read) => {
                                while stalled.load(Ordering::SeqCst) {
                                    thread::sleep(Duration::from_millis(10));
                                }
                                if to.write_all(&buffer[..read]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = to.shutdown(Shutdown::Both);
                });
            }
        }
    });
    port
}

/// A store on a fresh schema reached through [`proxy`], with a short response timeout, and the
/// switch that stalls it; `None` without a local test server.
fn through_a_proxy() -> Option<(Arc<PostgresTaskStore>, Arc<AtomicBool>)> {
    let server = testing::server()?;
    let fresh = testing::fresh_options()?;
    let endpoint = fresh.endpoint();
    if endpoint.host != "127.0.0.1" {
        eprintln!("!!! skipping: the test server is not on 127.0.0.1 ({})", server.url());
        return None;
    }
    let upstream: SocketAddr = format!("127.0.0.1:{}", endpoint.port).parse().expect("an address");
    let stalled = Arc::new(AtomicBool::new(false));
    let port = proxy(upstream, Arc::clone(&stalled));
    let url =
        server.url().replace(&format!("127.0.0.1:{}", endpoint.port), &format!("127.0.0.1:{port}"));
    let mut options =
        testing::options_for(&url, &fresh.schema).response_timeout(Some(RESPONSE_TIMEOUT));
    options.pool.connection_timeout = Duration::from_secs(2);
    let store = PostgresTaskStore::connect(options).expect("connected through the proxy");
    Some((Arc::new(store), stalled))
}

#[test]
fn a_listener_on_a_stalled_network_stops_without_waiting_for_the_server() {
    let Some((store, stalled)) = through_a_proxy() else { return };
    let listener = store.listen(|| {}).expect("listening through the proxy");
    stalled.store(true, Ordering::SeqCst);
    // Let the listener thread wait on its stalled connection for a few ticks.
    std::thread::sleep(Duration::from_millis(500));
    bounded(move || listener.stop()).expect("the listener stopped instead of waiting forever");
    stalled.store(false, Ordering::SeqCst);
}

#[test]
fn connecting_to_a_server_that_never_answers_fails_in_time() {
    // Accepts connections and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = silent.local_addr().expect("an address").port();
    let options = PostgresStoreOptions::from_url(&format!("postgres://u@127.0.0.1:{port}/db"))
        .expect("valid")
        .response_timeout(Some(RESPONSE_TIMEOUT));
    let error = bounded(move || PostgresTaskStore::connect(options).map(drop))
        .expect("connect returned instead of waiting forever")
        .expect_err("nobody answered");
    assert_eq!(error.kind(), PostgresErrorKind::Unreachable, "{error}");
    drop(silent);
}

#[test]
fn a_call_on_a_stalled_session_fails_in_time_and_the_store_recovers() {
    let Some((store, stalled)) = through_a_proxy() else { return };
    let id = TaskId::new("stalled-1").expect("a valid id");
    let task = NewTask::new("work", json!({})).with_options(EnqueueOptions::new().id(id.clone()));
    store.enqueue(task, Timestamp::now_utc()).expect("enqueued while the network flows");

    stalled.store(true, Ordering::SeqCst);
    let (reader, wanted) = (Arc::clone(&store), id.clone());
    let error = bounded(move || reader.get(&wanted).map(drop))
        .expect("the call returned instead of waiting forever")
        .expect_err("the server cannot answer");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");

    stalled.store(false, Ordering::SeqCst);
    let (reader, wanted) = (Arc::clone(&store), id.clone());
    let found = bounded(move || reader.get(&wanted))
        .expect("the call returned")
        .expect("the store works again once the network does");
    assert_eq!(found.map(|record| record.id), Some(id));
    // The last handle goes on a plain thread, like every other drop of this test.
    drop(store);
}
