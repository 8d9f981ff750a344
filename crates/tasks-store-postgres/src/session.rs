//! [`Session`]: one pooled connection to the server, a blocking client over `tokio-postgres`
//! whose every round trip (and the whole connect, handshake included) has a deadline.
//!
//! Why not the synchronous `postgres::Client`: it waits for the server without any limit.
//! When the network stalls (packets dropped, connections left open), a call blocks until the
//! operating system gives up on the connection, which can take many minutes, and even dropping
//! the client blocks, since it waits for the server to acknowledge the close. The server's
//! `statement_timeout` cannot help: its answer never arrives. So each session owns a small
//! runtime of its own (one thread-less `current_thread` runtime, as `postgres::Client` does),
//! drives the connection on it, and bounds each request by the store's response timeout. A
//! session whose request timed out is closed at once (its socket dropped, nothing awaited) and
//! never used again. The wake-up listener's connection is a session too ([`Listening`]).

use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Notification, Row, SimpleQueryMessage, Statement};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

/// A connection with deadlines. Blocking: call it from threads that may block, never from a
/// tokio worker (like `postgres::Client`).
pub(crate) struct Session {
    runtime: Runtime,
    client: tokio_postgres::Client,
    /// Drives the socket; aborted (which drops the socket) when the session closes.
    connection: Option<JoinHandle<()>>,
    /// How long one request may wait for its answer (`None`: no limit).
    timeout: Option<Duration>,
    timed_out: bool,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// The driver's error (unreachable server, refused login...).
    #[error(transparent)]
    Driver(#[from] postgres::Error),
    /// The server did not finish the handshake in time (a stalled network).
    #[error("the server did not finish the connection handshake within {0:?}")]
    TimedOut(Duration),
    /// The session's runtime could not start (out of file descriptors, say).
    #[error("cannot start a session runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs `request` on `runtime` to its answer, or to `limit`: `None` when the limit passed
/// (the request is dropped, half done).
fn within<T>(
    runtime: &Runtime,
    limit: Option<Duration>,
    request: impl std::future::Future<Output = T>,
) -> Option<T> {
    match limit {
        None => Some(runtime.block_on(request)),
        // The timer is made inside `block_on`: it needs the runtime's context.
        Some(limit) => runtime.block_on(async { tokio::time::timeout(limit, request).await }).ok(),
    }
}

impl Session {
    /// Connects, with `timeout` covering the whole handshake (the driver's own connect timeout
    /// covers only the TCP connect).
    pub(crate) fn connect(
        config: &tokio_postgres::Config,
        timeout: Option<Duration>,
    ) -> Result<Self, ConnectError> {
        Session::open(config, timeout, None)
    }

    /// Connects, and sends the notifications the server delivers (after a `LISTEN`) to
    /// `notifications`.
    fn open(
        config: &tokio_postgres::Config,
        timeout: Option<Duration>,
        notifications: Option<UnboundedSender<Notification>>,
    ) -> Result<Self, ConnectError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ConnectError::Runtime)?;
        let connect = config.connect(tokio_postgres::NoTls);
        // On a timeout, dropping the future drops the half-open socket.
        let (client, mut connection) = within(&runtime, timeout, connect)
            .ok_or(ConnectError::TimedOut(timeout.unwrap_or_default()))??;
        // Notices are dropped (the store raises none); the task ends with the socket.
        let connection = runtime.spawn(async move {
            let Some(notifications) = notifications else {
                let _ = connection.await;
                return;
            };
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(notification))) => {
                        let _ = notifications.send(notification);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                }
            }
        });
        Ok(Session { runtime, client, connection: Some(connection), timeout, timed_out: false })
    }

    /// Whether a request of this session timed out (it is then closed).
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Whether the session can no longer be used.
    pub(crate) fn is_closed(&self) -> bool {
        self.timed_out || self.client.is_closed()
    }

    /// The response timeout.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The answer of a request [`within`] ran: a timeout closes the session.
    fn settle<T>(
        &mut self,
        answer: Option<Result<T, postgres::Error>>,
    ) -> Result<T, postgres::Error> {
        match answer {
            Some(answer) => answer,
            None => {
                self.timed_out = true;
                Err(self.closed())
            }
        }
    }

    /// Stops the connection (dropping its socket) and returns the driver's error for a closed
    /// session: with the connection gone, any request fails at once with it.
    fn closed(&mut self) -> postgres::Error {
        if let Some(connection) = self.connection.take() {
            connection.abort();
            let _ = self.runtime.block_on(connection);
        }
        match self.runtime.block_on(self.client.simple_query("")) {
            Err(err) => err,
            // Unreachable with the connection stopped; the driver's timeout error says the
            // same thing if it ever happens.
            Ok(_) => tokio_postgres::Error::__private_api_timeout(),
        }
    }

    /// Prepares a statement.
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if self.timed_out {
            return Err(self.closed());
        }
        let answer = within(&self.runtime, self.timeout, self.client.prepare(sql));
        self.settle(answer)
    }

    /// Runs a prepared statement and returns its rows.
    pub(crate) fn query(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        if self.timed_out {
            return Err(self.closed());
        }
        let answer = within(&self.runtime, self.timeout, self.client.query(statement, params));
        self.settle(answer)
    }

    /// Runs a prepared statement and returns the number of rows it touched.
    pub(crate) fn execute(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        if self.timed_out {
            return Err(self.closed());
        }
        let answer = within(&self.runtime, self.timeout, self.client.execute(statement, params));
        self.settle(answer)
    }

    /// Runs statements through the simple query protocol.
    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        if self.timed_out {
            return Err(self.closed());
        }
        let answer = within(&self.runtime, self.timeout, self.client.batch_execute(sql));
        self.settle(answer)
    }

    /// Runs statements through the simple query protocol and returns their messages.
    pub(crate) fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<SimpleQueryMessage>, postgres::Error> {
        if self.timed_out {
            return Err(self.closed());
        }
        let answer = within(&self.runtime, self.timeout, self.client.simple_query(sql));
        self.settle(answer)
    }
}

/// A session that listens for notifications (the wake-up listener's connection): like every
/// session, it never blocks past its response timeout, not even when dropped.
pub(crate) struct Listening {
    session: Session,
    notifications: UnboundedReceiver<Notification>,
}

/// The listening session's connection is gone.
#[derive(Debug)]
pub(crate) struct Closed;

impl Listening {
    /// Connects and runs `listen_sql` (`LISTEN "channel"`).
    pub(crate) fn connect(
        config: &tokio_postgres::Config,
        timeout: Option<Duration>,
        listen_sql: &str,
    ) -> Result<Self, ConnectError> {
        let (sender, notifications) = unbounded_channel();
        let mut session = Session::open(config, timeout, Some(sender))?;
        session.batch_execute(listen_sql)?;
        Ok(Listening { session, notifications })
    }

    /// The next notification, waiting at most `wait`: `None` when none came.
    ///
    /// # Errors
    ///
    /// [`Closed`] when the connection is gone.
    pub(crate) fn next(&mut self, wait: Duration) -> Result<Option<Notification>, Closed> {
        let notifications = &mut self.notifications;
        let next = self
            .session
            .runtime
            .block_on(async { tokio::time::timeout(wait, notifications.recv()).await });
        match next {
            Ok(Some(notification)) => Ok(Some(notification)),
            // The connection task ended: the socket is gone.
            Ok(None) => Err(Closed),
            Err(_) if self.session.is_closed() => Err(Closed),
            Err(_) => Ok(None),
        }
    }

    /// Asks the server for a trivial answer, within the response timeout: a connection that
    /// stalled (no notification can tell) fails here.
    pub(crate) fn check(&mut self) -> Result<(), Closed> {
        self.session.simple_query("").map(drop).map_err(|_| Closed)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Drop the socket without waiting for the server to acknowledge anything: it may be
        // unreachable. The server ends the session when it sees the connection go (or, on a
        // stalled network, when its own timeouts fire).
        if let Some(connection) = self.connection.take() {
            connection.abort();
        }
    }
}

/// The driver configuration of the asynchronous client for a synchronous one's (the
/// synchronous `postgres::Config` keeps its inner configuration private, so every setting is
/// copied across).
pub(crate) fn async_config(config: &postgres::Config) -> tokio_postgres::Config {
    let mut out = tokio_postgres::Config::new();
    if let Some(user) = config.get_user() {
        out.user(user);
    }
    if let Some(password) = config.get_password() {
        out.password(password);
    }
    if let Some(dbname) = config.get_dbname() {
        out.dbname(dbname);
    }
    if let Some(options) = config.get_options() {
        out.options(options);
    }
    if let Some(name) = config.get_application_name() {
        out.application_name(name);
    }
    out.ssl_mode(config.get_ssl_mode());
    for host in config.get_hosts() {
        match host {
            tokio_postgres::config::Host::Tcp(name) => {
                out.host(name);
            }
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => {
                out.host_path(path);
            }
        }
    }
    for address in config.get_hostaddrs() {
        out.hostaddr(*address);
    }
    for port in config.get_ports() {
        out.port(*port);
    }
    if let Some(timeout) = config.get_connect_timeout() {
        out.connect_timeout(*timeout);
    }
    if let Some(timeout) = config.get_tcp_user_timeout() {
        out.tcp_user_timeout(*timeout);
    }
    out.keepalives(config.get_keepalives());
    out.keepalives_idle(config.get_keepalives_idle());
    if let Some(interval) = config.get_keepalives_interval() {
        out.keepalives_interval(interval);
    }
    if let Some(retries) = config.get_keepalives_retries() {
        out.keepalives_retries(retries);
    }
    out.target_session_attrs(config.get_target_session_attrs());
    out.channel_binding(config.get_channel_binding());
    out.load_balance_hosts(config.get_load_balance_hosts());
    out
}
