use clap::Parser;
use posture_server::config::{Cli, Command, UserCommand};
use posture_server::{bench, database, routes, seed, users};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();

    let cli = Cli::parse();
    let db = database::connect(&cli.database).await?;
    database::migrate(&db).await?;

    match cli.command {
        Command::Migrate => println!("Migrations applied to {}.", db.backend_name()),
        Command::Seed(args) => {
            seed::run(&db, &args).await?;
        }
        Command::Bench(args) => bench::run(&db, &args).await?,
        Command::User(UserCommand::Add(args)) => users::add(&db, &args).await?,
        Command::Serve(args) => routes::serve(db.clone(), &cli.database, &args).await?,
    }
    db.close().await;
    Ok(())
}
