//! Which clients' data a user may see: every client, or an assigned set. The store applies it
//! in the SQL of every read and write (`crate::db::scope`); anything outside it does not
//! exist for the user.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClientScope {
    /// Every client, present and future.
    #[default]
    All,
    /// Only these clients (by `clients.id`, ascending, no repeats); none sees nothing.
    Only(Vec<i64>),
}

impl ClientScope {
    /// The set of `clients`, in order and without repeats.
    pub fn only(clients: impl IntoIterator<Item = i64>) -> Self {
        let mut ids: Vec<i64> = clients.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        Self::Only(ids)
    }

    pub fn allows(&self, client: i64) -> bool {
        match self {
            Self::All => true,
            Self::Only(ids) => ids.binary_search(&client).is_ok(),
        }
    }

    pub fn is_restricted(&self) -> bool {
        matches!(self, Self::Only(_))
    }

    /// The assigned clients, or `None` for every client.
    pub fn clients(&self) -> Option<&[i64]> {
        match self {
            Self::All => None,
            Self::Only(ids) => Some(ids),
        }
    }

    /// A short stable name of the scope, for cache keys: `all`, or `c3,7`.
    pub fn key(&self) -> String {
        match self {
            Self::All => "all".into(),
            Self::Only(ids) => {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!("c{}", ids.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClientScope;

    #[test]
    fn a_set_of_clients_allows_only_those() {
        let scope = ClientScope::only([7, 3, 7]);
        assert_eq!(scope, ClientScope::Only(vec![3, 7]));
        assert!(scope.allows(3) && scope.allows(7) && !scope.allows(5));
        assert_eq!(scope.key(), "c3,7");
        assert!(ClientScope::All.allows(5));
        assert_eq!(ClientScope::All.key(), "all");
        assert!(!ClientScope::only([]).allows(1));
    }
}
