//! `posture-dev`: the developer tools, a binary of their own (built with the `dev-tools`
//! feature) so the production `posture` carries none of them and no HTTP client. The
//! simulator acts as many appliances against a running server; the benchmarks time the hot
//! queries and the appliance API.

pub mod bench;
pub mod bench_ingest;
pub mod simulate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{CacheArgs, DatabaseArgs};
use crate::database;

#[derive(Debug, Parser)]
#[command(
    name = "posture-dev",
    version,
    about = "Posture's simulator and benchmarks"
)]
pub struct DevCli {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub command: DevCommand,
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Time the hot queries against the configured database and print p50/p95.
    Bench(BenchArgs),
    /// Act as many appliances against a running server and report what was acknowledged.
    Simulate(SimulateArgs),
    /// Measure the appliance API's acknowledged events per second, batched and unbatched.
    BenchIngest(BenchIngestArgs),
}

/// Runs the tool `cli` names; only the benchmarks open the database (the simulator does with
/// `--provision`).
pub async fn run(cli: DevCli) -> anyhow::Result<()> {
    match cli.command {
        DevCommand::Simulate(args) => simulate::run(&cli.database.for_tools(), &args).await,
        DevCommand::Bench(args) => {
            let db = database::open(&cli.database.for_tools()).await?;
            bench::run(&db, &args).await?;
            db.close().await;
            Ok(())
        }
        DevCommand::BenchIngest(args) => {
            let db = database::open(&cli.database.for_tools()).await?;
            bench_ingest::run(&db, &args).await?;
            db.close().await;
            Ok(())
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Samples per uncached aggregate; windows and cached reads take 10x as many.
    #[arg(long, default_value_t = 20)]
    pub iterations: usize,
    /// Also time every query for a user scoped to the first this many clients (0: don't).
    #[arg(long, default_value_t = 5)]
    pub scoped_clients: usize,
}

#[derive(Debug, Clone, Args)]
pub struct BenchIngestArgs {
    /// Sites created for the run.
    #[arg(long, default_value_t = 20)]
    pub sites: usize,
    /// Concurrent appliances (senders) in the throughput and latency phases. Each waits for
    /// its answer before sending again, so this is also the most reports one batch can hold.
    #[arg(long, default_value_t = 256)]
    pub appliances: usize,
    #[arg(long, default_value_t = 50)]
    pub checks_per_report: usize,
    /// Length of each phase.
    #[arg(long, default_value = "10s")]
    pub duration: HumanDuration,
    /// Batched mode's most reports per transaction.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    #[arg(long, default_value_t = 5)]
    pub flush_ms: u64,
    #[arg(long, default_value_t = 4_096)]
    pub queue: usize,
    /// Senders in the overload phase.
    #[arg(long, default_value_t = 512)]
    pub overload_senders: usize,
    /// Length of the overload phase (memory is sampled every second).
    #[arg(long, default_value = "20s")]
    pub overload_duration: HumanDuration,
    /// Queue length in the overload phase (below the senders, so the excess gets 429).
    #[arg(long, default_value_t = 64)]
    pub overload_queue: usize,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The server to load.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// Appliances to provision with `--provision`.
    #[arg(long, default_value_t = 500)]
    pub appliances: usize,
    /// Requests per second over all appliances: `2000/s`, `120/m` or a plain number.
    #[arg(long, default_value = "2000/s")]
    pub rate: Rate,
    /// How long to run: `30s`, `500ms`, `2m`.
    #[arg(long, default_value = "30s")]
    pub duration: HumanDuration,
    /// Provision the appliances through the database (spread over its sites) first.
    #[arg(long)]
    pub provision: bool,
    /// `site_id key` lines: read, or written after `--provision`.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Check results per report.
    #[arg(long, default_value_t = 20)]
    pub checks_per_report: usize,
    /// Retries per request (on 429, 5xx and network errors) before it counts as failed.
    #[arg(long, default_value_t = 6)]
    pub max_retries: u32,
}

/// Requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (number, per) = text.split_once('/').unwrap_or((text, "s"));
        let seconds = match per {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3_600.0,
            _ => return Err(format!("{text:?}: the unit must be /s, /m or /h")),
        };
        let number: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a rate such as 2000/s"))?;
        if !(number > 0.0 && number.is_finite()) {
            return Err(format!("{text:?}: the rate must be positive"));
        }
        Ok(Rate(number / seconds))
    }
}

/// A duration such as `30s`, `500ms`, `2m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HumanDuration(pub std::time::Duration);

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let split = text
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration such as 30s"))?;
        let seconds = match unit {
            "ms" => number / 1_000.0,
            "s" | "" => number,
            "m" => number * 60.0,
            "h" => number * 3_600.0,
            _ => return Err(format!("{text:?}: the unit must be ms, s, m or h")),
        };
        std::time::Duration::try_from_secs_f64(seconds)
            .map(HumanDuration)
            .map_err(|_| format!("{text:?} is out of range"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<DevCli, clap::Error> {
        DevCli::try_parse_from(std::iter::once("posture-dev").chain(args.iter().copied()))
    }

    #[test]
    fn rates_and_durations_read_like_prose() {
        assert_eq!("2000/s".parse::<Rate>(), Ok(Rate(2000.0)));
        assert_eq!("120/m".parse::<Rate>(), Ok(Rate(2.0)));
        assert_eq!("50".parse::<Rate>(), Ok(Rate(50.0)));
        assert!("0/s".parse::<Rate>().is_err());
        let seconds = |s: &str| s.parse::<HumanDuration>().unwrap().0.as_secs_f64();
        assert_eq!(seconds("30s"), 30.0);
        assert_eq!(seconds("500ms"), 0.5);
        assert_eq!(seconds("2m"), 120.0);
        assert!("2 weeks".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn bad_values_are_rejected_with_the_flag_named() {
        let err = parse(&["simulate", "--rate", "fast"]).unwrap_err();
        assert!(err.to_string().contains("--rate"), "{err}");
        let err = parse(&["simulate", "--duration", "3 fortnights"]).unwrap_err();
        assert!(err.to_string().contains("--duration"), "{err}");
        assert!(parse(&["serve"]).is_err(), "the server is `posture`'s");
    }
}
