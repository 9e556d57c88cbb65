//! One module per page; each holds the server functions only it uses.

pub mod not_found;
pub mod overview;
pub mod placeholder;
