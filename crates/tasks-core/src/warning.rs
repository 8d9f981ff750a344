//! [`StoreWarning`]: something a store noticed that slows it down or puts its promises at risk
//! (a transaction held open for minutes, holding back the cleanup of dead rows, say), which
//! [`TaskStore::warnings`](crate::TaskStore::warnings) reports for a host to pass on.

use serde::{Deserialize, Serialize};

/// The code of a warning about a transaction open for too long.
pub const LONG_TRANSACTION_CODE: &str = "long_transaction";

/// A condition a store noticed, for people to act on.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StoreWarning {
    /// A stable code callers match on ([`LONG_TRANSACTION_CODE`]...).
    pub code: String,
    /// What is wrong, what it causes, and who causes it, for people.
    pub message: String,
}

impl StoreWarning {
    /// A warning with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        StoreWarning { code: code.into(), message: message.into() }
    }
}
