//! `posture-dev`: the simulator and the benchmarks ([`posture_server::dev`]).

use clap::Parser;
use posture_server::dev::{self, DevCli};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    posture_server::init_logging();
    dev::run(DevCli::parse()).await
}
