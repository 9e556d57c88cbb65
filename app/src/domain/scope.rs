//! Which part of the dashboard's data changed: the server's event stream names these, and an
//! open page marks exactly the matching queries stale. On the wire each is a short string
//! (`"stats"`, `"sites"`, `"site:clinic-7"`, `"incidents"`, `"*"`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::SiteSlug;

/// Ordered as their wire strings sort, so a set of scopes reads in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Scope {
    /// Everything: sent to a page that missed hints.
    Everything,
    /// Incident lists, counts and details.
    Incidents,
    /// One site's page.
    Site(SiteSlug),
    /// The sites and clients lists.
    Sites,
    /// The overview's counts and charts.
    Stats,
}

const SITE_PREFIX: &str = "site:";

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Stats => f.write_str("stats"),
            Scope::Sites => f.write_str("sites"),
            Scope::Site(slug) => write!(f, "{SITE_PREFIX}{slug}"),
            Scope::Incidents => f.write_str("incidents"),
            Scope::Everything => f.write_str("*"),
        }
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> Self {
        scope.to_string()
    }
}

impl TryFrom<String> for Scope {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Ok(match value.as_str() {
            "stats" => Scope::Stats,
            "sites" => Scope::Sites,
            "incidents" => Scope::Incidents,
            "*" => Scope::Everything,
            other => match other.strip_prefix(SITE_PREFIX) {
                Some(slug) if !slug.is_empty() => Scope::Site(SiteSlug(slug.to_string())),
                _ => return Err(format!("unknown scope {value:?}")),
            },
        })
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::{Scope, SiteSlug};

    #[test]
    fn scopes_travel_as_the_strings_both_ends_know() {
        let scopes = std::collections::BTreeSet::from([
            Scope::Stats,
            Scope::Sites,
            Scope::Site(SiteSlug("clinic-7".into())),
            Scope::Incidents,
            Scope::Everything,
        ]);
        let json = serde_json::to_string(&scopes).unwrap();
        assert_eq!(json, r#"["*","incidents","site:clinic-7","sites","stats"]"#);
        assert_eq!(
            serde_json::from_str::<std::collections::BTreeSet<Scope>>(&json).unwrap(),
            scopes
        );
        assert!(serde_json::from_str::<Scope>(r#""site:""#).is_err());
        assert!(serde_json::from_str::<Scope>(r#""weather""#).is_err());
    }
}
