//! The one place where a user's [`ClientScope`] becomes SQL: every query of the store that
//! reads or writes a client's data adds one of these conditions, so what lies outside the
//! scope is neither listed, counted, found by id nor changed.
//!
//! Client ids are integers, written into the text (as [`super::sql::id_list`] does), so a
//! condition fits any query without renumbering its placeholders.

use super::sql::id_list;
use crate::domain::client_scope::ClientScope;

/// A condition that holds for every row.
const EVERY_ROW: &str = "1 = 1";

/// `column` (a client's id) is one of the scope's clients.
pub fn clients_in(scope: &ClientScope, column: &str) -> String {
    match scope.clients() {
        None => EVERY_ROW.into(),
        Some(ids) => format!("{column} IN ({})", id_list(ids)),
    }
}

/// `column` (a site's key, `sites.id`) is a site of one of the scope's clients.
pub fn sites_in(scope: &ClientScope, column: &str) -> String {
    match scope.clients() {
        None => EVERY_ROW.into(),
        Some(ids) => format!(
            "{column} IN (SELECT id FROM sites WHERE client_id IN ({}))",
            id_list(ids)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_of_clients_becomes_an_in_list_and_none_matches_nothing() {
        let scope = ClientScope::only([7, 3]);
        assert_eq!(clients_in(&scope, "s.client_id"), "s.client_id IN (3, 7)");
        assert_eq!(
            sites_in(&scope, "site_id"),
            "site_id IN (SELECT id FROM sites WHERE client_id IN (3, 7))"
        );
        assert_eq!(clients_in(&ClientScope::All, "client_id"), "1 = 1");
        assert_eq!(clients_in(&ClientScope::only([]), "c"), "c IN (NULL)");
    }
}
