//! The domain's own types, shared by the server and the browser (this module is compiled into
//! the WASM): no database, no UI, only what a value is and which values are valid.

#[cfg(feature = "ssr")]
pub mod appliance;
pub mod client_scope;
pub mod ids;
pub mod order;
pub mod scope;
