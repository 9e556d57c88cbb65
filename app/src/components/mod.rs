//! Building blocks shared by the pages.

pub mod badges;
pub mod browser_timer;
pub mod charts;
pub mod current_user;
pub mod form;
pub mod freshness;
pub mod layout;
pub mod maintenance_notice;
pub mod query_view;
pub mod search_box;
pub mod sign_out;
pub mod theme_toggle;
pub mod toast;
