//! `posture seed`: fills an empty database with believable, reproducible demo data.

use anyhow::bail;
use app::db::Db;
use app::on_db;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::QueryBuilder;

use crate::config::{SeedArgs, SeedProfile};

pub const DEMO_ADMIN_EMAIL: &str = "admin@posture.local";
pub const DEMO_ADMIN_PASSWORD: &str = "posture-demo";

const CLINIC_KINDS: [&str; 8] = [
    "Family Practice",
    "Pediatrics",
    "Dental Care",
    "Women's Health",
    "Urgent Care",
    "Dermatology",
    "Physical Therapy",
    "Eye Clinic",
];
const TOWNS: [&str; 16] = [
    "Maple Grove",
    "Riverside",
    "Cedar Falls",
    "Lakewood",
    "Fairview",
    "Oak Ridge",
    "Brookfield",
    "Springdale",
    "Ashland",
    "Clearwater",
    "Hillcrest",
    "Westfield",
    "Northgate",
    "Pine Valley",
    "Stonebridge",
    "Harbor Point",
];
const CLIENT_SUFFIXES: [&str; 4] = [
    "Health Partners",
    "Medical Group",
    "Care Network",
    "Clinics",
];
const CHECK_TYPES: [&str; 10] = [
    "windows_update",
    "defender_status",
    "backup_job",
    "event_log_forwarding",
    "firewall_profile",
    "bitlocker_status",
    "local_admin_audit",
    "service_health",
    "open_ports",
    "file_integrity",
];

struct Volumes {
    clients: usize,
    sites_per_client: (usize, usize),
    incidents: usize,
}

fn volumes(profile: SeedProfile) -> Volumes {
    match profile {
        SeedProfile::Demo => Volumes {
            clients: 12,
            sites_per_client: (1, 6),
            incidents: 900,
        },
    }
}

pub async fn run(db: &Db, args: &SeedArgs) -> anyhow::Result<()> {
    let existing: i64 = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM clients")
            .fetch_one(pool)
            .await?
    });
    if existing > 0 {
        if args.if_empty {
            println!("The database already holds {existing} clients: not seeding.");
            return Ok(());
        }
        bail!("the database already holds {existing} clients; seed only into an empty database");
    }
    let counts = seed(db, args).await?;
    println!(
        "Seeded {} clients, {} sites, {} incidents and the demo admin ({DEMO_ADMIN_EMAIL}).",
        counts.0, counts.1, counts.2
    );
    Ok(())
}

async fn seed(db: &Db, args: &SeedArgs) -> anyhow::Result<(usize, usize, usize)> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let volumes = volumes(args.profile);
    let now = Utc::now();

    let client_names: Vec<String> = (0..volumes.clients)
        .map(|i| {
            format!(
                "{} {}",
                TOWNS[i % TOWNS.len()],
                CLIENT_SUFFIXES[i % CLIENT_SUFFIXES.len()]
            )
        })
        .collect();
    let password_hash = argon2::Argon2::default()
        .hash_password(
            DEMO_ADMIN_PASSWORD.as_bytes(),
            &SaltString::generate(&mut OsRng),
        )
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?
        .to_string();

    let counts = on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        QueryBuilder::new("INSERT INTO clients (name) ")
            .push_values(&client_names, |mut row, name| {
                row.push_bind(name);
            })
            .build()
            .execute(&mut *tx)
            .await?;
        let client_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM clients ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;

        let mut sites = Vec::new();
        for (client_index, client_id) in client_ids.iter().enumerate() {
            let (min, max) = volumes.sites_per_client;
            for n in 0..rng.random_range(min..=max) {
                sites.push(demo_site(&mut rng, *client_id, client_index, n));
            }
        }
        QueryBuilder::new(
            "INSERT INTO sites (site_id, client_id, clinic_name, tier, status, contact_name, contact_email) ",
        )
        .push_values(&sites, |mut row, site| {
            row.push_bind(&site.site_id)
                .push_bind(site.client_id)
                .push_bind(&site.clinic_name)
                .push_bind(site.tier)
                .push_bind(site.status)
                .push_bind(&site.contact_name)
                .push_bind(&site.contact_email);
        })
        .build()
        .execute(&mut *tx)
        .await?;
        let site_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM sites ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;

        let incidents: Vec<DemoIncident> = (0..volumes.incidents)
            .map(|_| demo_incident(&mut rng, &site_ids, now))
            .collect();
        // Stay well under SQLite's 32,766 bound-parameter limit per statement.
        for chunk in incidents.chunks(2_000) {
            QueryBuilder::new(
                "INSERT INTO incidents (site_id, hostname, check_type, severity, status, reported_at, resolved_at) ",
            )
            .push_values(chunk, |mut row, incident| {
                row.push_bind(incident.site_id)
                    .push_bind(&incident.hostname)
                    .push_bind(incident.check_type)
                    .push_bind(incident.severity)
                    .push_bind(incident.status)
                    .push_bind(incident.reported_at)
                    .push_bind(incident.resolved_at);
            })
            .build()
            .execute(&mut *tx)
            .await?;
        }

        sqlx::query(
            "INSERT INTO users (email, display_name, role, password_hash) VALUES ($1, $2, 'admin', $3)",
        )
        .bind(DEMO_ADMIN_EMAIL)
        .bind("Demo Admin")
        .bind(&password_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        (client_ids.len(), site_ids.len(), incidents.len())
    });
    Ok(counts)
}

struct DemoSite {
    site_id: String,
    client_id: i64,
    clinic_name: String,
    tier: &'static str,
    status: &'static str,
    contact_name: String,
    contact_email: String,
}

fn demo_site(rng: &mut StdRng, client_id: i64, client_index: usize, n: usize) -> DemoSite {
    let town = TOWNS[(client_index * 3 + n) % TOWNS.len()];
    let kind = CLINIC_KINDS[rng.random_range(0..CLINIC_KINDS.len())];
    let clinic_name = format!("{town} {kind}");
    let site_id = format!("{}-{}", slug(&clinic_name), client_index * 10 + n);
    let status = match rng.random_range(0..100) {
        0..70 => "online",
        70..82 => "stale",
        82..94 => "offline",
        _ => "pending",
    };
    let tier = ["small", "small", "mid", "large"][rng.random_range(0..4)];
    let first = [
        "Alex", "Sam", "Jordan", "Priya", "Maria", "Chen", "Fatima", "Luis",
    ][rng.random_range(0..8)];
    DemoSite {
        contact_email: format!("{}@{}.example", first.to_lowercase(), slug(town)),
        contact_name: format!("{first} (office manager)"),
        site_id,
        client_id,
        clinic_name,
        tier,
        status,
    }
}

struct DemoIncident {
    site_id: i64,
    hostname: String,
    check_type: &'static str,
    severity: &'static str,
    status: &'static str,
    reported_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
}

fn demo_incident(rng: &mut StdRng, site_ids: &[i64], now: DateTime<Utc>) -> DemoIncident {
    // Skewed: a few sites produce most incidents, most are low or medium.
    let site_index = (rng.random::<f64>().powi(3) * site_ids.len() as f64) as usize;
    let severity = match rng.random_range(0..100) {
        0..45 => "low",
        45..80 => "medium",
        80..95 => "high",
        _ => "critical",
    };
    let age = Duration::minutes((rng.random::<f64>().powi(2) * 30.0 * 24.0 * 60.0) as i64);
    let reported_at = now - age;
    let status = match rng.random_range(0..100) {
        0..75 => "resolved",
        75..88 => "open",
        88..95 => "resolving",
        _ => "escalated",
    };
    let resolved_at = (status == "resolved")
        .then(|| (reported_at + Duration::minutes(rng.random_range(5..600))).min(now));
    DemoIncident {
        site_id: site_ids[site_index.min(site_ids.len() - 1)],
        hostname: format!(
            "{}-{:02}",
            ["FD", "EXAM", "NURSE", "ADMIN", "SRV"][rng.random_range(0..5)],
            rng.random_range(1..20)
        ),
        check_type: CHECK_TYPES[rng.random_range(0..CHECK_TYPES.len())],
        severity,
        status,
        reported_at,
        resolved_at,
    }
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(
            slug("Maple Grove Women's Health"),
            "maple-grove-women-s-health"
        );
        assert_eq!(slug("  Eye   Clinic "), "eye-clinic");
    }
}
