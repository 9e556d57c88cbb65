//! The HIPAA Security Rule (45 CFR Part 164, Subpart C) controls each check type gives
//! evidence for, and a site's status per control from its latest results. The README's
//! "HIPAA Security Rule mapping" table is this one (a test keeps them equal).

use std::collections::BTreeMap;

use crate::scoring::CheckStatus;
use crate::types::{ControlState, ControlStatus};

/// A Security Rule standard or implementation specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// As the rule cites it, e.g. `164.312(a)(2)(iv)`.
    pub citation: &'static str,
    pub title: &'static str,
    /// Required, or addressable (implement it, or document why an equivalent is reasonable).
    pub required: bool,
}

const fn control(citation: &'static str, title: &'static str, required: bool) -> Control {
    Control {
        citation,
        title,
        required,
    }
}

/// Every control a check maps to, in the rule's order.
pub const CONTROLS: [Control; 23] = [
    control("164.308(a)(1)(ii)(A)", "Risk analysis", true),
    control("164.308(a)(1)(ii)(B)", "Risk management", true),
    control(
        "164.308(a)(1)(ii)(D)",
        "Information system activity review",
        true,
    ),
    control("164.308(a)(3)(ii)(C)", "Termination procedures", false),
    control(
        "164.308(a)(4)(ii)(C)",
        "Access establishment and modification",
        false,
    ),
    control(
        "164.308(a)(5)(ii)(B)",
        "Protection from malicious software",
        false,
    ),
    control("164.308(a)(5)(ii)(C)", "Log-in monitoring", false),
    control("164.308(a)(5)(ii)(D)", "Password management", false),
    control("164.308(a)(7)(ii)(A)", "Data backup plan", true),
    control("164.308(a)(7)(ii)(B)", "Disaster recovery plan", true),
    control(
        "164.308(a)(7)(ii)(D)",
        "Testing and revision procedures",
        false,
    ),
    control("164.308(a)(8)", "Evaluation", true),
    control("164.310(d)(1)", "Device and media controls", true),
    control("164.310(d)(2)(iv)", "Data backup and storage", false),
    control("164.312(a)(1)", "Access control", true),
    control("164.312(a)(2)(iv)", "Encryption and decryption", false),
    control("164.312(b)", "Audit controls", true),
    control("164.312(c)(1)", "Integrity", true),
    control(
        "164.312(c)(2)",
        "Mechanism to authenticate electronic protected health information",
        false,
    ),
    control("164.312(d)", "Person or entity authentication", true),
    control("164.312(e)(1)", "Transmission security", true),
    control(
        "164.312(e)(2)(i)",
        "Integrity controls (in transmission)",
        false,
    ),
    control("164.312(e)(2)(ii)", "Encryption (in transmission)", false),
];

/// Each check type and the citations of the controls it gives evidence for.
pub const CHECK_CONTROLS: [(&str, &[&str]); 29] = [
    (
        "windows_update",
        &["164.308(a)(1)(ii)(B)", "164.308(a)(5)(ii)(B)"],
    ),
    (
        "linux_packages",
        &["164.308(a)(1)(ii)(B)", "164.308(a)(5)(ii)(B)"],
    ),
    (
        "third_party_patches",
        &["164.308(a)(1)(ii)(B)", "164.308(a)(5)(ii)(B)"],
    ),
    ("reboot_pending", &["164.308(a)(1)(ii)(B)"]),
    ("defender_status", &["164.308(a)(5)(ii)(B)"]),
    (
        "edr_agent",
        &["164.308(a)(5)(ii)(B)", "164.308(a)(1)(ii)(D)"],
    ),
    ("av_signatures", &["164.308(a)(5)(ii)(B)"]),
    ("backup_job", &["164.308(a)(7)(ii)(A)", "164.310(d)(2)(iv)"]),
    (
        "backup_restore_test",
        &["164.308(a)(7)(ii)(D)", "164.308(a)(7)(ii)(B)"],
    ),
    (
        "offsite_copy",
        &["164.308(a)(7)(ii)(B)", "164.308(a)(7)(ii)(A)"],
    ),
    (
        "event_log_forwarding",
        &["164.312(b)", "164.308(a)(1)(ii)(D)"],
    ),
    ("audit_policy", &["164.312(b)", "164.308(a)(5)(ii)(C)"]),
    ("log_retention", &["164.312(b)", "164.308(a)(1)(ii)(D)"]),
    (
        "firewall_profile",
        &["164.312(e)(1)", "164.308(a)(1)(ii)(B)"],
    ),
    ("inbound_rules", &["164.312(e)(1)", "164.312(a)(1)"]),
    ("bitlocker_status", &["164.312(a)(2)(iv)", "164.310(d)(1)"]),
    ("tls_config", &["164.312(e)(2)(ii)", "164.312(e)(2)(i)"]),
    ("removable_media", &["164.310(d)(1)", "164.312(a)(2)(iv)"]),
    (
        "local_admin_audit",
        &["164.308(a)(4)(ii)(C)", "164.312(a)(1)"],
    ),
    ("password_policy", &["164.308(a)(5)(ii)(D)", "164.312(d)"]),
    ("mfa_enforced", &["164.312(d)"]),
    (
        "inactive_accounts",
        &["164.308(a)(3)(ii)(C)", "164.308(a)(4)(ii)(C)"],
    ),
    ("service_health", &["164.308(a)(8)"]),
    ("ntp_sync", &["164.312(b)"]),
    ("open_ports", &["164.312(e)(1)", "164.308(a)(1)(ii)(A)"]),
    ("dns_filtering", &["164.308(a)(5)(ii)(B)"]),
    ("wifi_security", &["164.312(e)(1)", "164.312(e)(2)(ii)"]),
    ("file_integrity", &["164.312(c)(1)", "164.312(c)(2)"]),
    ("secure_boot", &["164.312(c)(1)", "164.308(a)(5)(ii)(B)"]),
];

/// The check types behind `citation`, in the order of [`CHECK_CONTROLS`].
pub fn checks_of(citation: &str) -> Vec<&'static str> {
    CHECK_CONTROLS
        .iter()
        .filter(|(_, citations)| citations.contains(&citation))
        .map(|(check, _)| *check)
        .collect()
}

/// Each control's state from the latest result per (check type, host): failing when any
/// of its checks fails anywhere, passing when it has results and none fails (a warning is
/// not a failure), no data otherwise.
pub fn control_statuses<'a>(
    latest: impl IntoIterator<Item = (&'a str, CheckStatus)>,
) -> Vec<ControlStatus> {
    let mut worst: BTreeMap<&str, CheckStatus> = BTreeMap::new();
    for (check, status) in latest {
        let entry = worst.entry(check).or_insert(status);
        if severity(status) > severity(*entry) {
            *entry = status;
        }
    }
    CONTROLS
        .iter()
        .map(|control| {
            let checks: Vec<(String, Option<CheckStatus>)> = checks_of(control.citation)
                .into_iter()
                .map(|check| (check.to_string(), worst.get(check).copied()))
                .collect();
            let results = checks.iter().filter_map(|(_, status)| *status);
            let state = results.fold(ControlState::NoData, |state, status| {
                match (state, status) {
                    (_, CheckStatus::Fail) | (ControlState::Failing, _) => ControlState::Failing,
                    _ => ControlState::Pass,
                }
            });
            ControlStatus {
                citation: control.citation.to_string(),
                title: control.title.to_string(),
                required: control.required,
                state,
                checks,
            }
        })
        .collect()
}

fn severity(status: CheckStatus) -> u8 {
    match status {
        CheckStatus::Pass => 0,
        CheckStatus::Warn => 1,
        CheckStatus::Fail => 2,
    }
}

/// Whether `citation` is written as the rule writes its paragraphs: a section of Subpart C's
/// safeguards (164.308, .310, .312), then (a)..(z), (1)..(99), (i)..(x), (A)..(Z), each
/// level at most once and in that order.
pub fn well_formed(citation: &str) -> bool {
    let Some(rest) = ["164.308", "164.310", "164.312"]
        .iter()
        .find_map(|section| citation.strip_prefix(section))
    else {
        return false;
    };
    let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) else {
        return false;
    };
    let levels: [fn(&str) -> bool; 4] = [
        |p| p.len() == 1 && p.chars().all(|c| c.is_ascii_lowercase()),
        |p| p.parse::<u8>().is_ok_and(|n| (1..=99).contains(&n)) && !p.starts_with('0'),
        |p| ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"].contains(&p),
        |p| p.len() == 1 && p.chars().all(|c| c.is_ascii_uppercase()),
    ];
    let parts: Vec<&str> = inner.split(")(").collect();
    parts.len() <= levels.len()
        && parts
            .iter()
            .zip(levels)
            .all(|(part, level_ok)| level_ok(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::all_check_types;

    #[test]
    fn every_check_type_maps_to_a_known_control_and_every_control_has_a_check() {
        for check in all_check_types() {
            let (_, citations) = CHECK_CONTROLS
                .iter()
                .find(|(c, _)| *c == check)
                .unwrap_or_else(|| panic!("{check} is not mapped"));
            assert!(!citations.is_empty(), "{check} maps to no control");
            for citation in *citations {
                assert!(
                    CONTROLS.iter().any(|c| c.citation == *citation),
                    "{check}: {citation} is not in CONTROLS"
                );
            }
        }
        for (check, _) in CHECK_CONTROLS {
            assert!(
                all_check_types().any(|c| c == check),
                "{check} is mapped but no appliance runs it"
            );
        }
        for control in CONTROLS {
            assert!(
                !checks_of(control.citation).is_empty(),
                "{} has no check behind it",
                control.citation
            );
        }
    }

    #[test]
    fn every_citation_is_well_formed_and_listed_once() {
        for (i, control) in CONTROLS.iter().enumerate() {
            assert!(well_formed(control.citation), "{}", control.citation);
            assert!(!control.title.is_empty());
            assert!(
                CONTROLS[..i].iter().all(|c| c.citation != control.citation),
                "{} listed twice",
                control.citation
            );
        }
        for bad in [
            "164.312",
            "164.312()",
            "164.314(a)(1)",
            "164.312(a)(2)(iv",
            "164.312(A)(1)",
            "164.312(a)(01)",
            "164.312(a)(2)(xv)",
            "164.312(a)(2)(iv)(A)(1)",
            "164.312(a)(2)(iv)(a)",
        ] {
            assert!(!well_formed(bad), "{bad} accepted");
        }
        assert!(well_formed("164.308(a)(7)(ii)(A)"));
        assert!(well_formed("164.312(b)"));
    }

    #[test]
    fn a_control_fails_with_any_failing_check_and_has_no_data_without_results() {
        let latest = [
            ("backup_job", CheckStatus::Pass),
            ("backup_job", CheckStatus::Fail),
            ("offsite_copy", CheckStatus::Warn),
            ("mfa_enforced", CheckStatus::Warn),
        ];
        let statuses = control_statuses(latest);
        let of = |citation: &str| statuses.iter().find(|s| s.citation == citation).unwrap();
        let backup = of("164.308(a)(7)(ii)(A)");
        assert_eq!(backup.state, ControlState::Failing, "one host failed");
        assert_eq!(
            backup.checks,
            [
                ("backup_job".to_string(), Some(CheckStatus::Fail)),
                ("offsite_copy".to_string(), Some(CheckStatus::Warn)),
            ]
        );
        assert_eq!(
            of("164.312(d)").state,
            ControlState::Pass,
            "a warning passes"
        );
        assert_eq!(of("164.312(c)(1)").state, ControlState::NoData);
        assert_eq!(statuses.len(), CONTROLS.len());
    }

    /// The README's table, row by row.
    #[test]
    fn the_readme_lists_this_mapping() {
        let readme = include_str!("../../README.md");
        for control in CONTROLS {
            let kind = if control.required {
                "required"
            } else {
                "addressable"
            };
            let checks = checks_of(control.citation)
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let row = format!(
                "| {} | {} | {kind} | {checks} |",
                control.citation, control.title
            );
            assert!(readme.contains(&row), "README lacks the row\n{row}");
        }
    }
}
