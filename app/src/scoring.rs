//! Compliance scoring: per-category scores, the weighted overall, freshness and health.
//! These are the product's exact rules; the tests below work examples by hand.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// The ten categories, each with the check types that feed it.
pub const CATEGORY_CHECK_TYPES: [(&str, &[&str]); 10] = [
    (
        "patching",
        &[
            "windows_update",
            "linux_packages",
            "third_party_patches",
            "reboot_pending",
        ],
    ),
    (
        "antivirus",
        &["defender_status", "edr_agent", "av_signatures"],
    ),
    (
        "backup",
        &["backup_job", "backup_restore_test", "offsite_copy"],
    ),
    (
        "logging",
        &["event_log_forwarding", "audit_policy", "log_retention"],
    ),
    ("firewall", &["firewall_profile", "inbound_rules"]),
    (
        "encryption",
        &["bitlocker_status", "tls_config", "removable_media"],
    ),
    (
        "access_control",
        &[
            "local_admin_audit",
            "password_policy",
            "mfa_enforced",
            "inactive_accounts",
        ],
    ),
    ("services", &["service_health", "ntp_sync"]),
    ("network", &["open_ports", "dns_filtering", "wifi_security"]),
    ("system_integrity", &["file_integrity", "secure_boot"]),
];

pub const CATEGORIES: [&str; 10] = [
    "patching",
    "antivirus",
    "backup",
    "logging",
    "firewall",
    "encryption",
    "access_control",
    "services",
    "network",
    "system_integrity",
];

/// check_type -> category, built once from [`CATEGORY_CHECK_TYPES`]: an O(1) lookup.
static CATEGORY_OF: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    CATEGORY_CHECK_TYPES
        .iter()
        .flat_map(|(category, types)| types.iter().map(move |t| (*t, *category)))
        .collect()
});

pub fn category_of(check_type: &str) -> Option<&'static str> {
    CATEGORY_OF.get(check_type).copied()
}

/// Every known check type, in category order.
pub fn all_check_types() -> impl Iterator<Item = &'static str> {
    CATEGORY_CHECK_TYPES
        .iter()
        .flat_map(|(_, types)| types.iter().copied())
}

pub fn category_weight(category: &str) -> f64 {
    match category {
        "encryption" | "access_control" => 0.18,
        "backup" | "logging" | "patching" => 0.14,
        "firewall" => 0.10,
        _ => 0.06,
    }
}

/// A check's result, as appliances send it and the database stores it (`pass`, `warn`,
/// `fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

impl CheckStatus {
    pub const ALL: [CheckStatus; 3] = [CheckStatus::Pass, CheckStatus::Warn, CheckStatus::Fail];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// Pass/warn/fail tallies of one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub pass: u32,
    pub warn: u32,
    pub fail: u32,
}

impl Tally {
    pub fn add(&mut self, status: CheckStatus) {
        match status {
            CheckStatus::Pass => self.pass += 1,
            CheckStatus::Warn => self.warn += 1,
            CheckStatus::Fail => self.fail += 1,
        }
    }

    pub fn total(&self) -> u32 {
        self.pass + self.warn + self.fail
    }

    /// (pass + 0.5 × warn) / total × 100, or `None` ("no data") when there are no results.
    pub fn score(&self) -> Option<f64> {
        let total = self.total();
        (total > 0)
            .then(|| (f64::from(self.pass) + 0.5 * f64::from(self.warn)) / f64::from(total) * 100.0)
    }
}

/// One site's compliance: a score per category that has data, and the weighted overall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compliance {
    /// In [`CATEGORIES`] order; `None` means "no data".
    pub categories: Vec<(String, Option<f64>)>,
    pub overall: Option<f64>,
}

/// Scores the latest result per (check_type, hostname); results of unknown check types are
/// ignored. The caller picks the latest results of the last 24 hours.
pub fn compliance<'a>(latest: impl IntoIterator<Item = (&'a str, CheckStatus)>) -> Compliance {
    let mut tallies: HashMap<&'static str, Tally> = HashMap::new();
    for (check_type, status) in latest {
        if let Some(category) = category_of(check_type) {
            tallies.entry(category).or_default().add(status);
        }
    }
    let categories: Vec<(String, Option<f64>)> = CATEGORIES
        .iter()
        .map(|c| (c.to_string(), tallies.get(c).and_then(Tally::score)))
        .collect();
    Compliance {
        overall: overall(&categories),
        categories,
    }
}

/// Weighted mean over the categories that have data, weights renormalised over those present.
pub fn overall(categories: &[(String, Option<f64>)]) -> Option<f64> {
    let (weighted, weights) = categories
        .iter()
        .filter_map(|(category, score)| score.map(|s| (s, category_weight(category))))
        .fold((0.0, 0.0), |(sum, weights), (score, weight)| {
            (sum + score * weight, weights + weight)
        });
    (weights > 0.0).then(|| weighted / weights)
}

/// Freshness of a site from the age of its last check-in: < 5 min 100, < 15 min 80,
/// < 1 h 50, older 20, never 0.
pub fn freshness(age_seconds: Option<i64>) -> f64 {
    match age_seconds {
        None => 0.0,
        Some(s) if s < 5 * 60 => 100.0,
        Some(s) if s < 15 * 60 => 80.0,
        Some(s) if s < 60 * 60 => 50.0,
        Some(_) => 20.0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthLevel {
    Healthy,
    Warning,
    Critical,
    /// Never checked in: being set up, not failing. Kept out of "needing attention".
    Onboarding,
}

impl HealthLevel {
    /// How much a level asks for attention: onboarding least, critical most.
    pub fn urgency(self) -> u8 {
        match self {
            HealthLevel::Onboarding => 0,
            HealthLevel::Healthy => 1,
            HealthLevel::Warning => 2,
            HealthLevel::Critical => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub score: f64,
    pub level: HealthLevel,
}

/// Health = 0.4 × freshness + 0.6 × compliance. Healthy if freshness ≥ 80 and compliance ≥ 70;
/// warning if freshness ≥ 50 or compliance ≥ 50; else critical. A site without compliance data
/// counts its compliance as 0 here: nothing known is nothing proven.
pub fn health(freshness: f64, compliance: Option<f64>) -> Health {
    let compliance = compliance.unwrap_or(0.0);
    let level = if freshness >= 80.0 && compliance >= 70.0 {
        HealthLevel::Healthy
    } else if freshness >= 50.0 || compliance >= 50.0 {
        HealthLevel::Warning
    } else {
        HealthLevel::Critical
    };
    Health {
        score: 0.4 * freshness + 0.6 * compliance,
        level,
    }
}

/// A site is stale this long after its latest check-in (and its silence alerts at high).
pub const STALE_AFTER_SECONDS: i64 = 15 * 60;
/// A site is offline this long after its latest check-in (and its silence alerts at critical).
pub const OFFLINE_AFTER_SECONDS: i64 = 60 * 60;

/// A site's live status from the age of its latest check-in.
pub fn site_status(age_seconds: Option<i64>) -> &'static str {
    match age_seconds {
        None => "pending",
        Some(s) if s < STALE_AFTER_SECONDS => "online",
        Some(s) if s < OFFLINE_AFTER_SECONDS => "stale",
        Some(_) => "offline",
    }
}

#[cfg(test)]
mod tests {
    use super::CheckStatus::{Fail, Pass, Warn};
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn every_check_type_maps_to_exactly_one_category() {
        let mut seen = std::collections::HashSet::new();
        for check_type in all_check_types() {
            assert!(seen.insert(check_type), "{check_type} listed twice");
        }
        assert_eq!(category_of("backup_job"), Some("backup"));
        assert_eq!(category_of("mfa_enforced"), Some("access_control"));
        assert_eq!(category_of("no_such_check"), None);
    }

    #[test]
    fn category_score_counts_a_warning_as_half() {
        // 2 pass, 1 warn, 1 fail: (2 + 0.5) / 4 × 100 = 62.5
        let t = Tally {
            pass: 2,
            warn: 1,
            fail: 1,
        };
        assert!(close(t.score().unwrap(), 62.5));
        assert_eq!(Tally::default().score(), None);
    }

    #[test]
    fn overall_is_weighted_and_renormalised_over_categories_with_data() {
        // backup: 1 pass 1 fail -> 50; encryption: 1 pass -> 100; firewall: 1 warn -> 50.
        // (50 × 0.14 + 100 × 0.18 + 50 × 0.10) / (0.14 + 0.18 + 0.10) = 30 / 0.42 = 71.428571...
        let c = compliance([
            ("backup_job", Pass),
            ("offsite_copy", Fail),
            ("bitlocker_status", Pass),
            ("firewall_profile", Warn),
        ]);
        assert!(close(c.overall.unwrap(), 30.0 / 0.42), "{c:?}");
        let score = |name: &str| c.categories.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(score("backup"), Some(50.0));
        assert_eq!(score("patching"), None, "no data is not 0");
    }

    #[test]
    fn no_results_means_no_overall_score() {
        assert_eq!(compliance([]).overall, None);
        assert_eq!(compliance([("unknown_check", Pass)]).overall, None);
    }

    #[test]
    fn a_single_other_category_counts_fully() {
        // services alone: weight 0.06 renormalised to 1.
        let c = compliance([("ntp_sync", Warn)]);
        assert!(close(c.overall.unwrap(), 50.0));
    }

    #[test]
    fn freshness_steps() {
        assert_eq!(freshness(None), 0.0);
        assert_eq!(freshness(Some(0)), 100.0);
        assert_eq!(freshness(Some(299)), 100.0);
        assert_eq!(freshness(Some(300)), 80.0);
        assert_eq!(freshness(Some(899)), 80.0);
        assert_eq!(freshness(Some(900)), 50.0);
        assert_eq!(freshness(Some(3599)), 50.0);
        assert_eq!(freshness(Some(3600)), 20.0);
    }

    #[test]
    fn health_combines_freshness_and_compliance() {
        // 0.4 × 80 + 0.6 × 70 = 74, healthy at the thresholds exactly.
        let h = health(80.0, Some(70.0));
        assert!(close(h.score, 74.0));
        assert_eq!(h.level, HealthLevel::Healthy);
        // Fresh but non-compliant: warning (freshness ≥ 50).
        assert_eq!(health(100.0, Some(10.0)).level, HealthLevel::Warning);
        // Stale but compliant: warning (compliance ≥ 50).
        assert_eq!(health(20.0, Some(90.0)).level, HealthLevel::Warning);
        // Old and failing: critical; 0.4 × 20 + 0.6 × 30 = 26.
        let h = health(20.0, Some(30.0));
        assert_eq!(h.level, HealthLevel::Critical);
        assert!(close(h.score, 26.0));
        assert_eq!(health(0.0, None).level, HealthLevel::Critical);
    }

    #[test]
    fn site_status_from_last_checkin() {
        assert_eq!(site_status(None), "pending");
        assert_eq!(site_status(Some(899)), "online");
        assert_eq!(site_status(Some(900)), "stale");
        assert_eq!(site_status(Some(3600)), "offline");
    }
}
