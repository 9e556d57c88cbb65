//! Maintenance windows: when one holds alerts back (weekly windows at the same local time in
//! their time zone, across daylight saving), and adding one that does not overlap another on
//! the same sites.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::Actor;
use crate::alerts::{
    LOCAL_TIME_FORMAT, MaintenanceWindow, Saved, WindowInput, validate_window, window_minutes,
};
use crate::db::Db;
use crate::db::accounts::NewAudit;
use crate::db::maintenance::{self as store, NewWindow, StoredWindow};
use crate::domain::client_scope::ClientScope;
use crate::error::AppError;

/// How far ahead a new window is compared with the others for overlap.
const OVERLAP_HORIZON: Duration = Duration::days(8 * 7);

/// When a window is: its first start, length, whether it repeats weekly, and where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub starts_at: DateTime<Utc>,
    pub duration: Duration,
    pub weekly: bool,
    pub time_zone: Tz,
}

impl Schedule {
    pub fn of(window: &StoredWindow) -> Option<Self> {
        Some(Self {
            starts_at: window.starts_at,
            duration: Duration::minutes(window.duration_minutes),
            weekly: window.weekly,
            time_zone: window.time_zone.parse().ok()?,
        })
    }

    /// The `week`-th occurrence's start: the first start's local time, `week` weeks on. A
    /// local time that daylight saving skips starts at the first instant after the gap.
    fn start_of(&self, week: i64) -> DateTime<Utc> {
        let local =
            self.starts_at.with_timezone(&self.time_zone).naive_local() + Duration::weeks(week);
        let mut probe = local;
        loop {
            if let Some(start) = self.time_zone.from_local_datetime(&probe).earliest() {
                return start.with_timezone(&Utc);
            }
            probe += Duration::minutes(15);
        }
    }

    /// The week whose occurrence starts at or before `at` (by local time), if any.
    fn week_at(&self, at: DateTime<Utc>) -> i64 {
        let first = self.starts_at.with_timezone(&self.time_zone).naive_local();
        let now = at.with_timezone(&self.time_zone).naive_local();
        (now - first).num_days().div_euclid(7)
    }

    /// The occurrence `[start, end)` that covers `at`.
    pub fn covering(&self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if at < self.starts_at {
            return None;
        }
        let weeks = if self.weekly {
            let week = self.week_at(at);
            vec![week, week - 1]
        } else {
            vec![0]
        };
        weeks
            .into_iter()
            .filter(|week| *week >= 0)
            .map(|week| {
                let start = self.start_of(week);
                (start, start + self.duration)
            })
            .find(|(start, end)| *start <= at && at < *end)
    }

    /// The start of the first occurrence after `at`.
    pub fn next_start(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if at < self.starts_at {
            return Some(self.starts_at);
        }
        if !self.weekly {
            return None;
        }
        let week = self.week_at(at);
        [week, week + 1]
            .into_iter()
            .map(|week| self.start_of(week))
            .find(|start| *start > at)
    }

    /// Occurrences that overlap `[from, to)`.
    fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let weeks = if self.weekly {
            0..=((to - self.starts_at).num_weeks().max(0) + 1)
        } else {
            0..=0
        };
        weeks
            .map(|week| {
                let start = self.start_of(week);
                (start, start + self.duration)
            })
            .filter(|(start, end)| *end > from && *start < to)
            .collect()
    }

    /// Whether some occurrence of each overlaps, from `from` on for [`OVERLAP_HORIZON`].
    pub fn overlaps(&self, other: &Schedule, from: DateTime<Utc>) -> bool {
        let to = from + OVERLAP_HORIZON;
        let theirs = other.occurrences(from, to);
        self.occurrences(from, to)
            .iter()
            .any(|(start, end)| theirs.iter().any(|(s, e)| start < e && s < end))
    }
}

/// The window that covers `at` among `windows`, if any.
pub fn covering(windows: &[StoredWindow], at: DateTime<Utc>) -> Option<&StoredWindow> {
    windows
        .iter()
        .find(|w| Schedule::of(w).and_then(|s| s.covering(at)).is_some())
}

/// A stored window as the page shows it at `now`.
pub fn shown(window: StoredWindow, now: DateTime<Utc>) -> MaintenanceWindow {
    let schedule = Schedule::of(&window);
    MaintenanceWindow {
        id: window.id,
        covers: window.covers,
        reason: window.reason,
        starts_at: window.starts_at,
        duration_minutes: window.duration_minutes,
        weekly: window.weekly,
        time_zone: window.time_zone,
        created_by: window.created_by,
        active: schedule.and_then(|s| s.covering(now)).is_some(),
        next_start: schedule.and_then(|s| s.next_start(now)),
    }
}

/// Windows under way at `now` or starting within a day: all of `scope`'s, or those touching
/// the site (of `scope`) whose public id is `site` (its own and its client's); an unknown site,
/// or one outside `scope`, is 404.
pub async fn current_windows(
    db: &Db,
    scope: &ClientScope,
    site: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<MaintenanceWindow>, AppError> {
    let windows = match site {
        None => store::list_windows(db, scope).await?,
        Some(slug) => match store::site_and_client(db, scope, slug).await? {
            Some((site, client)) => store::windows_of(db, Some(site), client).await?,
            None => return Err(AppError::NotFound(format!("no site with id {slug:?}"))),
        },
    };
    Ok(windows
        .into_iter()
        .map(|window| shown(window, now))
        .filter(|w| w.active || w.next_start.is_some_and(|at| at - now <= Duration::days(1)))
        .collect())
}

/// Adds a window when the form's checks pass, its site or client and time zone exist, and it
/// overlaps no window on the same sites; field errors come back as [`Saved::Invalid`].
pub async fn add_window(db: &Db, input: WindowInput, actor: Actor) -> Result<Saved, AppError> {
    let mut errors = validate_window(&input);
    let time_zone: Option<Tz> = input.time_zone.trim().parse().ok();
    if time_zone.is_none() && !errors.contains_key("time_zone") {
        errors.insert(
            "time_zone".into(),
            format!(
                "{:?} is not a time zone; use a name such as Europe/Berlin or UTC.",
                input.time_zone.trim()
            ),
        );
    }
    let slug = input.site.trim();
    let target = if !slug.is_empty() {
        store::site_and_client(db, &ClientScope::All, slug)
            .await?
            .map(|(site, client)| (Some(site), client))
    } else if let Some(client) = input.client_id {
        crate::db::alerts::client_exists(db, client)
            .await?
            .then_some((None, client))
    } else {
        None
    };
    if target.is_none() && !errors.contains_key("site") {
        errors.insert("site".into(), "No such site or client.".into());
    }
    let (Some(tz), Some((site_id, client)), Some(minutes), true) =
        (time_zone, target, window_minutes(&input), errors.is_empty())
    else {
        return Ok(Saved::Invalid(errors));
    };
    let local = NaiveDateTime::parse_from_str(&input.start, LOCAL_TIME_FORMAT)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let Some(starts_at) = tz.from_local_datetime(&local).earliest() else {
        errors.insert(
            "start".into(),
            format!(
                "{} does not exist in {tz} (daylight saving skips it).",
                input.start
            ),
        );
        return Ok(Saved::Invalid(errors));
    };
    let schedule = Schedule {
        starts_at: starts_at.with_timezone(&Utc),
        duration: Duration::minutes(minutes),
        weekly: input.weekly,
        time_zone: tz,
    };
    let now = Utc::now();
    let others = store::windows_of(db, site_id, client).await?;
    let from = now.min(schedule.starts_at);
    if let Some(other) = others
        .iter()
        .find(|w| Schedule::of(w).is_some_and(|s| s.overlaps(&schedule, from)))
    {
        errors.insert(
            "start".into(),
            format!(
                "It overlaps window #{} ({}) on {}.",
                other.id, other.reason, other.covers
            ),
        );
        return Ok(Saved::Invalid(errors));
    }
    let window = NewWindow {
        site_id,
        client_id: site_id.is_none().then_some(client),
        reason: input.reason.trim().to_string(),
        starts_at: schedule.starts_at,
        duration_minutes: minutes,
        weekly: input.weekly,
        time_zone: tz.name().to_string(),
    };
    let audit = NewAudit {
        actor: actor.name,
        action: "maintenance.add",
        target: if slug.is_empty() {
            format!("client {client}")
        } else {
            slug.to_string()
        },
        details: serde_json::json!({
            "reason": window.reason,
            "starts_at": window.starts_at,
            "duration_minutes": minutes,
            "weekly": input.weekly,
            "time_zone": window.time_zone,
        }),
        ip: actor.ip,
        at: now,
    };
    Ok(Saved::Saved(
        store::insert_window(db, &window, &audit).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(start: &str, zone: &str, minutes: i64) -> Schedule {
        let tz: Tz = zone.parse().unwrap();
        let local = NaiveDateTime::parse_from_str(start, LOCAL_TIME_FORMAT).unwrap();
        Schedule {
            starts_at: tz
                .from_local_datetime(&local)
                .earliest()
                .unwrap()
                .with_timezone(&Utc),
            duration: Duration::minutes(minutes),
            weekly: true,
            time_zone: tz,
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_weekly_window_keeps_its_local_time_across_daylight_saving() {
        // Saturdays 22:00-02:00 in New York; clocks go forward on Sunday 8 March 2026.
        let window = weekly("2026-02-28T22:00", "America/New_York", 4 * 60);
        // Before the change 22:00 EST is 03:00 UTC; after it, 22:00 EDT is 02:00 UTC.
        assert!(window.covering(utc("2026-03-01T03:30:00Z")).is_some());
        assert!(window.covering(utc("2026-03-15T02:30:00Z")).is_some());
        assert!(
            window.covering(utc("2026-03-15T06:30:00Z")).is_none(),
            "02:30 EDT: over"
        );
        assert!(
            window.covering(utc("2026-03-15T01:30:00Z")).is_none(),
            "21:30 EDT: not yet"
        );
        assert_eq!(
            window.next_start(utc("2026-03-10T00:00:00Z")),
            Some(utc("2026-03-15T02:00:00Z"))
        );
    }

    #[test]
    fn a_start_that_daylight_saving_skips_moves_past_the_gap() {
        // Sundays 02:30 in New York: on 8 March 2026 that local time does not exist.
        let window = weekly("2026-03-01T02:30", "America/New_York", 60);
        let skipped = window.start_of(1);
        assert_eq!(
            skipped,
            utc("2026-03-08T07:00:00Z"),
            "03:00 EDT, the first instant after the gap"
        );
    }

    #[test]
    fn windows_overlap_only_when_an_occurrence_meets() {
        let tuesday_nights = weekly("2026-03-03T22:00", "UTC", 120);
        let wednesday_mornings = weekly("2026-03-04T06:00", "UTC", 60);
        let from = utc("2026-03-01T00:00:00Z");
        assert!(!tuesday_nights.overlaps(&wednesday_mornings, from));
        let once_in_the_night = Schedule {
            weekly: false,
            ..weekly("2026-03-17T23:30", "UTC", 30)
        };
        assert!(tuesday_nights.overlaps(&once_in_the_night, from));
    }
}
