//! Alerts on the server: the outbox written inside the transactions that raise alerts, the
//! delivery worker that sends them, the alert sweep (silence, compliance, reminders), and the
//! alerts of a broken evidence chain.

pub mod chain;
pub mod compliance;
pub mod outbox;
pub mod reminders;
pub mod silence;
pub mod sweep;
mod worker;

pub use worker::start;
