//! A site has two ids: the database's key, used inside Posture (`site_id` of incidents,
//! bundles and scores), and the slug its clinic and appliance know it by (`site_id` of the
//! appliance API, the URLs and the sites table). Each has its own type so they cannot be mixed
//! up; on the wire both stay plain values.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A site's database key (`sites.id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SiteKey(pub i64);

/// A site's public id (`sites.site_id`), such as `clinic-7`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SiteSlug(pub String);

impl From<i64> for SiteKey {
    fn from(key: i64) -> Self {
        Self(key)
    }
}

impl From<String> for SiteSlug {
    fn from(slug: String) -> Self {
        Self(slug)
    }
}

impl SiteSlug {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for SiteSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
