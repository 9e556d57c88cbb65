//! One module per page; each holds the server functions it reads through.

pub mod clients;
pub mod incidents;
pub mod not_found;
pub mod overview;
pub mod placeholder;
pub mod runbooks;
pub mod site_detail;
pub mod sites;
