use app::db::audit_chain::{self, Verdict};
use clap::Parser;
use posture_server::api::auth::KEY_CACHE_TTL;
use posture_server::config::{ApplianceCommand, Cli, Command, UserCommand};
use posture_server::evidence_pack::verify::verify_pack;
use posture_server::{database, provision, routes, seed, signing, users};

/// mimalloc rather than the system allocator: under load glibc's malloc and free were about
/// 17 % of the server's CPU (`perf record`, `get_overview` at 64 connections).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// At least two worker threads, also on a one-CPU machine: leptos has open reports of
/// server-rendered pages that never finish on a single worker thread (leptos#4647, #4578).
const MIN_WORKER_THREADS: usize = 2;

fn main() -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus.max(MIN_WORKER_THREADS))
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    posture_server::init_logging();

    let cli = Cli::parse();
    // An auditor with the published key needs no database.
    if let Command::VerifyPack(args) = &cli.command
        && let Some(key) = &args.public_key
    {
        let trusted = signing::parse_public_key(key)?;
        exit_unless(report_pack(&args.file, &trusted)?);
    }
    let database = match cli.command {
        Command::Serve(_) => cli.database.clone(),
        _ => cli.database.for_tools(),
    };
    let db = database::open(&database).await?;
    match cli.command {
        Command::Migrate => println!("Migrations applied to {}.", db.backend_name()),
        Command::Seed(args) => {
            seed::run(&db, &args).await?;
        }
        Command::User(UserCommand::Add(args)) => users::add(&db, &args).await?,
        Command::User(UserCommand::Unlock(args)) => users::unlock(&db, &args).await?,
        Command::Appliance(ApplianceCommand::Add(args)) => {
            let provisioned =
                provision::provision_appliance(&db, &args.site, &args.hostname).await?;
            println!(
                "Appliance {} added to site {}. Its API key (shown only now):\n{}",
                provisioned.appliance_id, args.site, provisioned.key
            );
        }
        Command::Appliance(ApplianceCommand::Revoke(args)) => {
            let revoked = provision::revoke_keys(&db, args.id).await?;
            let when = match db {
                app::db::Db::Postgres(_) => "at once".to_string(),
                app::db::Db::Sqlite(_) => format!("within {} s", KEY_CACHE_TTL.as_secs()),
            };
            println!(
                "Revoked {revoked} key(s) of appliance {}. Running servers refuse them {when}.",
                args.id
            );
        }
        Command::Appliance(ApplianceCommand::Rotate(args)) => {
            let key = provision::rotate_key(&db, args.id).await?;
            println!(
                "Appliance {} has a new API key (shown only now); its old keys are revoked:\n{key}",
                args.id
            );
        }
        Command::VerifyAudit => match audit_chain::verify(&db).await? {
            Verdict::Intact { sealed, unsealed } => println!(
                "Audit log intact: {sealed} sealed entries verified; {unsealed} not sealed \
                     yet (a running server seals new entries within 5 s)."
            ),
            Verdict::Broken {
                position,
                entry_id,
                reason,
            } => {
                eprintln!(
                    "Audit log BROKEN at chain position {position} (entry id {entry_id}): \
                         {reason}."
                );
                db.close().await;
                std::process::exit(1);
            }
        },
        Command::VerifyPack(args) => {
            let Some((_, public)) = app::db::signing_keys::load(&db).await? else {
                anyhow::bail!(
                    "this database has no signing key (no server has started on it): pass \
                     --public-key as /.well-known/posture-signing-key gives it"
                );
            };
            db.close().await;
            exit_unless(report_pack(
                &args.file,
                &signing::parse_public_key(&public)?,
            )?);
        }
        Command::Serve(args) => routes::serve(db.clone(), &cli.database, &args).await?,
    }
    db.close().await;
    Ok(())
}

/// Verifies the pack at `path` and prints what was found; whether it holds.
fn report_pack(
    path: &std::path::Path,
    trusted: &ed25519_dalek::VerifyingKey,
) -> anyhow::Result<bool> {
    let findings = verify_pack(path, trusted)?;
    if findings.problems.is_empty() {
        let files = findings.manifest.map_or(0, |m| m.files.len());
        println!(
            "Evidence pack intact: {files} files match the signed manifest of {}.",
            path.display()
        );
        return Ok(true);
    }
    eprintln!("Evidence pack {} does NOT verify:", path.display());
    for problem in &findings.problems {
        eprintln!("  - {problem}");
    }
    Ok(false)
}

fn exit_unless(intact: bool) {
    std::process::exit(if intact { 0 } else { 1 });
}
