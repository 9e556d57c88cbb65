//! Command line and environment configuration of `posture`. The server's flags and the
//! database URL also read an environment variable (the flag wins when both are given). The
//! developer tools have a binary of their own ([`crate::dev`]).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "posture",
    version,
    about = "Compliance health for MSPs that look after clinics"
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Parsed once per run, so the size of its largest variant (`serve`'s many flags) costs
/// nothing worth a box.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the dashboard and the API.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Fill the database with generated data.
    Seed(SeedArgs),
    /// Manage the people who can sign in.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage appliances.
    #[command(subcommand)]
    Appliance(ApplianceCommand),
    /// Recompute the audit log's hash chain and name the first entry changed or removed
    /// since it was sealed; exits 1 when the chain is broken.
    VerifyAudit,
    /// Check an evidence pack: every file's SHA-256 against its manifest, and the manifest's
    /// signature; names each file missing, added or changed and exits 1 when anything is.
    VerifyPack(VerifyPackArgs),
}

#[derive(Debug, Clone, Args)]
pub struct VerifyPackArgs {
    /// The pack (`evidence.zip`).
    pub file: std::path::PathBuf,
    /// The server's public key (base64), as `/.well-known/posture-signing-key` gives it;
    /// without it, the key in the database is trusted.
    #[arg(long)]
    pub public_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ApplianceCommand {
    /// Provision an appliance for a site and print its API key (shown only this once).
    Add(ApplianceAddArgs),
    /// Revoke every key of an appliance: running servers on PostgreSQL refuse them at once
    /// (they are told), on SQLite within the 30 s key cache.
    Revoke(ApplianceIdArgs),
    /// Give an appliance a new key and revoke its old ones.
    Rotate(ApplianceIdArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ApplianceIdArgs {
    /// The appliance's id, as `posture appliance add` printed it.
    #[arg(long)]
    pub id: i64,
}

#[derive(Debug, Clone, Args)]
pub struct ApplianceAddArgs {
    /// The site's public id (`sites.site_id`).
    #[arg(long)]
    pub site: String,
    #[arg(long)]
    pub hostname: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; prints a generated password when none is given.
    Add(UserAddArgs),
    /// End a user's lock after failed sign-ins, so they can sign in again at once.
    Unlock(UserUnlockArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UserUnlockArgs {
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, Clone, Args)]
pub struct UserAddArgs {
    #[arg(long)]
    pub email: String,
    /// Name shown in the header and the audit log; the email when omitted.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, value_parser = ["admin", "operator", "readonly"], default_value = "readonly")]
    pub role: String,
    /// At least 10 characters; generated when omitted. Prefer the environment variable to
    /// keep it out of shell history.
    #[arg(long, env = "POSTURE_USER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Limit the user to these clients (ids, comma-separated, such as `3,7`); every client
    /// when omitted. Not for admins, who see every client.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub clients: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://path/to/file.db` (created if missing) or `postgres://user:pass@host/db`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/posture.db",
        global = true
    )]
    pub database_url: String,
    /// Longest a request waits for a free database connection before it is answered 503.
    #[arg(
        long,
        env = "POSTURE_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 1500,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,
    /// PostgreSQL: longest one statement of `serve` may run before the database cancels it
    /// and the request is answered 503 (0: no limit). Other subcommands run without a limit.
    #[arg(
        long,
        env = "POSTURE_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub db_statement_timeout_ms: u64,
}

impl DatabaseArgs {
    /// The database at `url` with the default waits (tests and tools).
    pub fn at(url: impl Into<String>) -> Self {
        DatabaseArgs {
            database_url: url.into(),
            db_acquire_timeout_ms: 1500,
            db_statement_timeout_ms: 5000,
        }
    }

    /// The same database with no statement timeout: for migrations, seeding and the other
    /// one-off subcommands, whose statements may rightly run long.
    pub fn for_tools(&self) -> Self {
        DatabaseArgs {
            db_statement_timeout_ms: 0,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Share cached aggregates through Redis (`redis://host:6379`); in process when unset.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// How long computed aggregates (scores, stats) are served from the cache.
    #[arg(long, env = "POSTURE_CACHE_TTL_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub cache_ttl_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Leptos settings file (site root, output name, default address).
    #[arg(long, env = "POSTURE_LEPTOS_CONFIG", default_value = "Leptos.toml")]
    pub leptos_config: PathBuf,
    /// Address to listen on; overrides `site-addr` from the Leptos settings.
    #[arg(long, env = "POSTURE_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Time each readiness check gets before it counts as failed, in milliseconds.
    #[arg(long, env = "POSTURE_HEALTH_TIMEOUT_MS", default_value_t = 800,
          value_parser = clap::value_parser!(u64).range(10..=10_000))]
    pub health_timeout_ms: u64,
    /// Readiness reports "degraded" when the database volume has less free space than this.
    #[arg(long, env = "POSTURE_MIN_FREE_DISK_MB", default_value_t = 512)]
    pub min_free_disk_mb: u64,
    /// Dashboard requests (pages, server functions, exports) handled at once; past it the
    /// answer is an immediate 503 rather than a wait.
    #[arg(long, env = "POSTURE_MAX_IN_FLIGHT", default_value_t = 512,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_in_flight: u64,
    /// The bearer token a Prometheus scraper sends to read `/metrics`; without one, only a
    /// client on this machine that no proxy forwarded may read it.
    #[arg(long, env = "POSTURE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Days raw check results are kept before they are pruned; the daily compliance
    /// snapshots and the audit log are kept regardless (HIPAA asks for six years).
    #[arg(long, env = "POSTURE_RETENTION_DAYS", default_value_t = 400,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: u32,
    /// The address people reach Posture at (behind a proxy: the proxy's), for the links in
    /// the monthly report mails; without it, the address the server listens on.
    #[arg(long, env = "POSTURE_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub ingest: IngestArgs,
    #[command(flatten)]
    pub sign_in: SignInArgs,
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// Where alert mail goes.
#[derive(Debug, Clone, Args)]
pub struct AlertArgs {
    /// The SMTP relay for alert mail: `smtp://[user:pass@]host[:port]` (STARTTLS when the
    /// server offers it; add `?tls=required` to insist) or `smtps://...` (TLS from the start).
    /// Without it, e-mail channels fail with a clear error and webhooks still work.
    #[arg(long, env = "POSTURE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of alert mail.
    #[arg(
        long,
        env = "POSTURE_SMTP_FROM",
        default_value = "Posture <alerts@posture.local>"
    )]
    pub smtp_from: String,
    /// How often this server runs the alert sweep: sites whose appliance stopped checking in,
    /// compliance rules, reminders (one server at a time does); 0: never on this server.
    #[arg(long, env = "POSTURE_SILENCE_SWEEP_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub silence_sweep_secs: u64,
}

impl AlertArgs {
    /// The sender, or why the relay's settings cannot work (the server does not start).
    pub fn sender(&self) -> anyhow::Result<app::services::alerts::send::AlertSender> {
        let smtp = self
            .smtp_url
            .clone()
            .map(|url| app::services::alerts::send::SmtpSettings {
                url,
                from: self.smtp_from.clone(),
            });
        Ok(app::services::alerts::send::AlertSender::new(smtp)?)
    }
}

/// Sign-in throttling and the proxies in front of the server.
#[derive(Debug, Clone, Args)]
pub struct SignInArgs {
    /// Proxies (addresses or networks, comma-separated) whose `X-Forwarded-For` names the
    /// client; from any other peer the header is ignored.
    #[arg(long, env = "POSTURE_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = crate::client_ip::parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Sign-in attempts one client address may make per minute (and at once); past it 429.
    #[arg(long, env = "POSTURE_SIGN_IN_PER_MINUTE",
          default_value_t = crate::sign_in::PER_ADDRESS_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sign_in_per_minute: u32,
    /// Sign-in attempts from all addresses together per second (three times as many at
    /// once); past it 429.
    #[arg(long, env = "POSTURE_SIGN_IN_OVERALL_PER_SECOND",
          default_value_t = crate::sign_in::OVERALL_PER_SECOND,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sign_in_overall_per_second: u32,
    /// How long this server remembers who a session belongs to, in seconds, instead of asking
    /// the database on every request; 0 asks every time. Signing out and disabling or
    /// changing a user take effect at once on every server all the same.
    #[arg(long, env = "POSTURE_SESSION_CACHE_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub session_cache_secs: u64,
}

/// The appliance API's write queue and batcher.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// Reports that may wait for the batcher; beyond this the API answers 429.
    #[arg(long, env = "POSTURE_INGEST_QUEUE", default_value_t = 4_096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub ingest_queue: u64,
    /// Most reports written per transaction; 1 turns batching off.
    #[arg(long, env = "POSTURE_INGEST_BATCH", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub ingest_batch: u64,
    /// Longest a partial batch waits for more reports, in milliseconds.
    #[arg(long, env = "POSTURE_INGEST_FLUSH_MS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub ingest_flush_ms: u64,
    /// Longest a report waits to be committed before the API answers 503 (the appliance
    /// retries with the same report_id).
    #[arg(long, env = "POSTURE_INGEST_ACK_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub ingest_ack_timeout_secs: u64,
    /// Memory for request bodies being read and reports waiting to be written, in MiB; past
    /// it the appliance API answers 503.
    #[arg(long, env = "POSTURE_INGEST_MEMORY_MB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(16..=65_536))]
    pub ingest_memory_mb: u64,
    /// Appliance API requests handled at once; past it the API answers 503.
    #[arg(long, env = "POSTURE_API_MAX_IN_FLIGHT", default_value_t = 2_048,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub api_max_in_flight: u64,
    /// Requests per second one appliance key may make, sustained (bursts of three times as
    /// many are allowed); past it that key gets 429.
    #[arg(long, env = "POSTURE_API_KEY_RATE", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub api_key_rate: u32,
}

impl IngestArgs {
    pub fn settings(&self) -> crate::ingest::IngestSettings {
        crate::ingest::IngestSettings {
            queue: self.ingest_queue as usize,
            batch: self.ingest_batch as usize,
            flush: std::time::Duration::from_millis(self.ingest_flush_ms),
            ack_timeout: std::time::Duration::from_secs(self.ingest_ack_timeout_secs),
        }
    }

    pub fn limits(&self) -> crate::api::limits::LimitSettings {
        const BURST_FACTOR: NonZeroU32 = NonZeroU32::new(3).unwrap();
        let rate = NonZeroU32::new(self.api_key_rate).unwrap_or(NonZeroU32::MIN);
        crate::api::limits::LimitSettings {
            per_key_rate: rate,
            per_key_burst: rate.saturating_mul(BURST_FACTOR),
            requests_in_flight: self.api_max_in_flight as usize,
            memory_bytes: (self.ingest_memory_mb as usize) << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeedProfile {
    /// 50 clients, 200 sites, ~400 appliances, 50,000 incidents, 30 days of check results.
    Demo,
    /// 2,000 sites, 1,000,000 incidents, ~5,000,000 check results.
    Large,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[arg(long, value_enum, default_value = "demo")]
    pub profile: SeedProfile,
    /// Shorthand for `--profile large`.
    #[arg(long, conflicts_with = "profile")]
    pub large: bool,
    /// Generate this many incidents instead of the profile's number.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub incidents: Option<u64>,
    /// Random seed: the same seed always generates the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Do nothing when the database already holds clients (used by `make run`).
    #[arg(long)]
    pub if_empty: bool,
}

impl SeedArgs {
    pub fn profile(&self) -> SeedProfile {
        if self.large {
            SeedProfile::Large
        } else {
            self.profile
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("posture").chain(args.iter().copied()))
    }

    #[test]
    fn serve_defaults() {
        let cli = parse(&["serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.leptos_config, PathBuf::from("Leptos.toml"));
        assert_eq!(args.addr, None);
        assert_eq!(args.health_timeout_ms, 800);
        assert_eq!(args.ingest.settings().batch, 256);
        assert!(args.sign_in.trusted_proxies.is_empty());
        assert_eq!(args.sign_in.sign_in_per_minute, 10);
    }

    #[test]
    fn flags_are_parsed_and_checked() {
        let cli = parse(&[
            "--database-url",
            "postgres://u@localhost/p",
            "serve",
            "--addr",
            "0.0.0.0:8080",
            "--health-timeout-ms",
            "250",
        ])
        .unwrap();
        assert_eq!(cli.database.database_url, "postgres://u@localhost/p");
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.addr, Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(args.health_timeout_ms, 250);

        let cli = parse(&["serve", "--trusted-proxies", "10.0.0.0/8, 192.0.2.1"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.sign_in.trusted_proxies.len(), 2);
        let err = parse(&["serve", "--trusted-proxies", "proxy.local"]).unwrap_err();
        assert!(err.to_string().contains("--trusted-proxies"), "{err}");
        let cli = parse(&["user", "unlock", "--email", "a@b.c"]).unwrap();
        assert!(matches!(cli.command, Command::User(UserCommand::Unlock(_))));
    }

    #[test]
    fn bad_values_are_rejected_with_the_flag_named() {
        let err = parse(&["serve", "--addr", "not-an-address"]).unwrap_err();
        assert!(err.to_string().contains("--addr"), "{err}");
        let err = parse(&["serve", "--health-timeout-ms", "0"]).unwrap_err();
        assert!(err.to_string().contains("--health-timeout-ms"), "{err}");
        assert!(
            parse(&["simulate"]).is_err(),
            "a developer tool, not in `posture`"
        );
        let err = parse(&["seed", "--profile", "huge"]).unwrap_err();
        assert!(err.to_string().contains("--profile"), "{err}");
        assert!(parse(&["launch"]).is_err());
    }
}
