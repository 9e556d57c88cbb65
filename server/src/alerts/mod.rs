//! Alerts on the server: the outbox written inside the transactions that raise alerts, the
//! delivery worker that sends them, and the silence sweep.

pub mod outbox;
pub mod silence;
mod worker;

pub use worker::start;
