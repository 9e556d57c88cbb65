//! `posture seed`: fills an empty database with believable, reproducible data.
//! The same `--seed` gives the same rows (timestamps are relative to the moment of seeding).

pub mod batch;
mod catalog;
pub mod generate;

use std::time::Instant;

use anyhow::bail;
use app::db::Db;

use crate::config::{SeedArgs, SeedProfile};

pub const DEMO_ADMIN_EMAIL: &str = "admin@posture.local";
pub const DEMO_ADMIN_PASSWORD: &str = "posture-demo";

/// How much of everything a profile generates.
#[derive(Debug, Clone, Copy)]
pub struct Volumes {
    pub clients: usize,
    pub sites: usize,
    pub incidents: usize,
    /// Compliance reports per appliance per day, over 30 days.
    pub reports_per_day: usize,
    pub checks_per_report: usize,
    pub events_per_site: usize,
}

pub fn volumes(profile: SeedProfile) -> Volumes {
    match profile {
        SeedProfile::Demo => Volumes {
            clients: 50,
            sites: 200,
            incidents: 50_000,
            reports_per_day: 2,
            checks_per_report: 12,
            events_per_site: 40,
        },
        SeedProfile::Large => Volumes {
            clients: 300,
            sites: 2_000,
            incidents: 1_000_000,
            reports_per_day: 3,
            checks_per_report: 14,
            events_per_site: 50,
        },
    }
}

/// Row counts written, for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub clients: usize,
    pub sites: usize,
    pub appliances: usize,
    pub incidents: usize,
    pub check_results: usize,
    pub bundles: usize,
    pub snapshots: usize,
    pub runbooks: usize,
}

pub async fn run(db: &Db, args: &SeedArgs) -> anyhow::Result<()> {
    let existing = app::db::count_clients(db).await?;
    if existing > 0 {
        if args.if_empty {
            println!("The database already holds {existing} clients: not seeding.");
            return Ok(());
        }
        bail!("the database already holds {existing} clients; seed only into an empty database");
    }
    let started = Instant::now();
    let mut volumes = volumes(args.profile());
    if let Some(incidents) = args.incidents {
        volumes.incidents = incidents as usize;
    }
    let written = generate::generate(db, volumes, args.seed).await?;
    println!(
        "Seeded {} clients, {} sites, {} appliances, {} incidents, {} check results in {} bundles, \
         {} snapshots and {} runbooks in {:.1} s ({}). Demo admin: {DEMO_ADMIN_EMAIL}.",
        written.clients,
        written.sites,
        written.appliances,
        written.incidents,
        written.check_results,
        written.bundles,
        written.snapshots,
        written.runbooks,
        started.elapsed().as_secs_f64(),
        db.backend_name(),
    );
    Ok(())
}
