//! `TaskStore::warnings`: a transaction held open in the store's database past the
//! configured threshold is reported, naming its backend and application; once it ends, it is
//! not. Found by the gauntlet's `long-transaction` scenario (claims slowed down and nothing
//! said why).

use std::time::{Duration, Instant};

use tasks_core::{TaskStore, Timestamp};
use tasks_store_postgres::PostgresTaskStore;
use tasks_store_postgres::testing;

const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn a_long_open_transaction_is_reported_until_it_ends() {
    let Some(server) = testing::server() else { return };
    let Some(options) = testing::fresh_options() else { return };
    let options = options.long_transaction_warning(Some(Duration::from_millis(200)));
    let store = PostgresTaskStore::connect(options).expect("connected");

    let mut config: postgres::Config = server.url().parse().expect("a valid url");
    let mut holder = config
        .application_name("report-export")
        .connect(postgres::NoTls)
        .expect("a second connection");
    let pid: i32 = holder.query_one("SELECT pg_backend_pid()", &[]).expect("a pid").get(0);
    let mut transaction = holder.transaction().expect("begun");
    transaction.query_one("SELECT txid_current()", &[]).expect("an xid");

    let deadline = Instant::now() + PATIENCE;
    let warning = loop {
        let warnings = store.warnings(Timestamp::now_utc()).expect("the check runs");
        if let Some(warning) = warnings.into_iter().find(|w| w.message.contains(&pid.to_string())) {
            break warning;
        }
        assert!(Instant::now() < deadline, "no warning about backend {pid}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(warning.code, "long_transaction");
    assert!(warning.message.contains("report-export"), "{}", warning.message);
    assert!(warning.message.contains("idle in transaction"), "{}", warning.message);

    transaction.commit().expect("committed");
    let after = store.warnings(Timestamp::now_utc()).expect("the check runs");
    assert!(
        after.iter().all(|w| !w.message.contains(&format!("backend {pid} "))),
        "still reported after it ended: {after:?}"
    );
    let off = testing::fresh_options().expect("a server").long_transaction_warning(None);
    let quiet = PostgresTaskStore::connect(off).expect("connected");
    assert!(quiet.warnings(Timestamp::now_utc()).expect("no check").is_empty());
}
