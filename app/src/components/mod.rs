//! Building blocks shared by the pages.

pub mod error_view;
pub mod freshness;
pub mod layout;
pub mod theme_toggle;
