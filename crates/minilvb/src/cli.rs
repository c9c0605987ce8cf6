//! The command line: `serve` (the default), `migrate`, `config`, the
//! operator's commands and `operators` (the web console's accounts).

mod operators;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::admin::ban_end::parse_ban_end;
use crate::admin::moderation::{Actor, ModerationError, Moderator, Outcome};
use crate::config::{LogFormat, Overrides, Settings};
use crate::{Application, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "minilvb",
    version,
    about = "Business server for the Mini LVB live-broadcast apps"
)]
pub struct Cli {
    /// TOML configuration file (default: minilvb.toml in the working directory, if present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Public listen address, e.g. 0.0.0.0:8080 (overrides server.listen).
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Database URL, e.g. sqlite:minilvb.db (overrides database.url).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format (overrides log.format).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Look at rooms and force them offline.
    #[command(subcommand)]
    Rooms(RoomsCommand),
    /// Ban and unban users from broadcasting.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Reports of users sent by viewers (ReportUser).
    #[command(subcommand)]
    Reports(ReportsCommand),
    /// Look at and delete recordings.
    #[command(subcommand)]
    Recordings(RecordingsCommand),
    /// The audit log: who did what to whom, why, and what the cloud said.
    Audit {
        /// How many entries, newest first.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The web console's operators: add, list, remove, set a password.
    #[command(subcommand)]
    Operators(operators::OperatorsCommand),
    /// Copy rooms, recordings and members from an original server's
    /// database (`live_demo` on MySQL) into this one. Safe to re-run: each
    /// imported room and recording is replaced with the original's state.
    ImportLegacy {
        /// The original's database, e.g. mysql://user:password@host/live_demo.
        #[arg(long, value_name = "URL")]
        from: String,
    },
}

/// Output format of the operator commands.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Where a moderation action acts.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct ScopeArgs {
    /// Change the database only, without asking the cloud (when the cloud
    /// refuses or cannot be reached, and the change must be made anyway).
    #[arg(long)]
    pub local_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum RoomsCommand {
    /// List rooms, newest session first.
    List {
        /// Only rooms that are online.
        #[arg(long)]
        online: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Show a room and its members (in the configured member order).
    Show {
        userid: String,
        /// How many members to show.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Cut the room's stream at the cloud, then set the room offline.
    Offline {
        userid: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Ban a user: the cloud forbids and cuts its stream; RequestLVBAddr then fails with 4004,
    /// the room goes offline and out of the lists.
    Ban {
        userid: String,
        /// Why, for the audit log and the cloud.
        #[arg(long)]
        reason: String,
        /// When the ban ends (UTC): 2026-12-31T18:00:00Z, "2026-12-31 18:00", or a duration
        /// such as 7d, 12h, 30m; at most 90 days away when the cloud is asked. Default: until
        /// lifted.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Lift a ban: the cloud resumes the stream, the user may broadcast again.
    Unban {
        userid: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List banned users.
    Banned {
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// List open reports, newest first.
    List {
        /// Resolved reports too.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Mark a report resolved.
    Resolve {
        id: i64,
        /// What was done about it.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordingsCommand {
    /// List recordings, newest first.
    List {
        /// Only this VJ's recordings.
        #[arg(long)]
        userid: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a recording's media on VOD, then the recording, its members and likes.
    Delete {
        userid: String,
        fileid: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        listen: cli.listen.clone(),
        database_url: cli.database_url.clone(),
        log_format: cli.log_format.map(|f| match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }),
    };
    let settings = match Settings::load(cli.config.as_deref(), &overrides) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("minilvb: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Config) = cli.command {
        print!("{}", settings.to_redacted_toml());
        return ExitCode::SUCCESS;
    }
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("minilvb: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Migrate) => migrate(settings).await,
            Some(Command::ImportLegacy { from }) => import_legacy(settings, &from).await,
            Some(Command::Operators(command)) => operators::run(settings, command).await,
            None | Some(Command::Serve) | Some(Command::Config) => serve(settings).await,
            Some(command) => operate(settings, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // An operator's typo is not worth an error log line, nor is
            // a cloud refusal, which its client logged already.
            let operators_mistake = error
                .downcast_ref::<crate::admin::operations::NotFound>()
                .is_some()
                || error
                    .downcast_ref::<crate::admin::operations::BadInput>()
                    .is_some()
                || error.downcast_ref::<operators::Refused>().is_some();
            let cloud_refusal = matches!(
                error.downcast_ref::<ModerationError>(),
                Some(ModerationError::NotFound(_) | ModerationError::Cloud(_))
            );
            if !operators_mistake && !cloud_refusal {
                tracing::error!("{error:#}");
            }
            eprintln!("minilvb: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let store = minilvb_store::connect(&settings.database, None).await?;
    store.close().await;
    tracing::info!(database = %crate::redact_url(&settings.database.url), "migrations applied");
    Ok(())
}

async fn import_legacy(settings: Settings, from: &str) -> anyhow::Result<()> {
    let store = minilvb_store::connect(&settings.database, None).await?;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let result = crate::admin::import::import_legacy(from, store.as_ref(), &settings, now).await;
    store.close().await;
    let report = result?;
    tracing::info!(?report, from = %crate::redact_url(from), "import finished");
    println!(
        "imported {} rooms, {} recordings, {} members; {} members of unknown groups skipped, \
         {} rooms got a new stream id",
        report.rooms,
        report.recordings,
        report.members,
        report.orphan_members,
        report.renamed_streams
    );
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let demo = settings.demo_settings();
    if !demo.is_empty() {
        tracing::warn!(
            settings = %demo.join(", "),
            "RUNNING ON DEMO VALUES: push URLs, callbacks and upload signatures will not work \
             with the real cloud. Set these (e.g. MINILVB_LIVE__PUSH_KEY) before going live."
        );
    }
    let database = crate::redact_url(&settings.database.url);
    let shutdown = shutdown_signal();
    let app = Application::build(settings).await?;
    tracing::info!(
        address = %app.local_addr(),
        %database,
        max_connections = app.max_connections(),
        "minilvb serving"
    );
    if let Some(url) = app.console_url() {
        tracing::info!(%url, "web console serving");
        if let Ok(operators) = app.store().operators().await
            && operators.is_empty()
        {
            tracing::warn!(
                "the web console has no operators yet: add one with \
                 `minilvb operators add NAME --role admin`"
            );
        }
    }
    app.run_until(shutdown).await?;
    tracing::info!("minilvb stopped");
    Ok(())
}

/// Completes on SIGTERM or SIGINT. The handlers are installed when this is
/// called, not when the future is first polled, so that a signal arriving
/// right after start-up stops the server gracefully instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut terminate, mut interrupt) = signals;
            let terminate = async {
                match terminate.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            };
            tokio::select! {
                _ = interrupt => tracing::info!("SIGINT: shutting down"),
                _ = terminate => tracing::info!("SIGTERM: shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("SIGINT: shutting down");
        }
    }
}

/// Runs an operator command against the configured database (and, for the
/// moderation actions, the cloud).
async fn operate(settings: Settings, command: Command) -> anyhow::Result<()> {
    use crate::admin::operations;
    use crate::clock::SystemClock;

    let store = minilvb_store::connect(&settings.database, None).await?;
    let moderator = match Moderator::new(store.clone(), Arc::new(SystemClock), &settings) {
        Ok(moderator) => moderator,
        Err(error) => {
            store.close().await;
            return Err(anyhow::Error::new(error).context("cloud_api"));
        }
    };
    let actor = Actor::cli();
    let store = store.as_ref();
    let order = settings.members.order;
    let moderated = |result: Result<Outcome, ModerationError>| match result {
        Ok(outcome) => operations::moderated(&outcome),
        Err(error) => Err(error.into()),
    };
    let (result, output) = match command {
        Command::Rooms(RoomsCommand::List { online, output }) => {
            (operations::list_rooms(store, online).await, output)
        }
        Command::Rooms(RoomsCommand::Show {
            userid,
            limit,
            output,
        }) => (
            operations::show_room(store, &userid, order, limit).await,
            output,
        ),
        Command::Rooms(RoomsCommand::Offline {
            userid,
            reason,
            scope,
            output,
        }) => {
            let result = moderator
                .force_offline(&actor, &userid, &reason, scope.local_only)
                .await;
            (moderated(result), output)
        }
        Command::Users(UsersCommand::Ban {
            userid,
            reason,
            until,
            scope,
            output,
        }) => {
            let asks_cloud = moderator.cloud().is_some() && !scope.local_only;
            let limit = asks_cloud.then_some(minilvb_cloud::MAX_FORBID_SECONDS);
            let end = until
                .map(|text| parse_ban_end(&text, moderator.now(), limit))
                .transpose();
            let result = match end {
                Err(why) => Err(operations::BadInput(why).into()),
                Ok(end) => moderated(
                    moderator
                        .ban(&actor, &userid, &reason, end, scope.local_only)
                        .await,
                ),
            };
            (result, output)
        }
        Command::Users(UsersCommand::Unban {
            userid,
            reason,
            scope,
            output,
        }) => {
            let result = moderator
                .unban(&actor, &userid, &reason, scope.local_only)
                .await;
            (moderated(result), output)
        }
        Command::Users(UsersCommand::Banned { output }) => {
            (operations::list_bans(store).await, output)
        }
        Command::Reports(ReportsCommand::List { all, output }) => {
            (operations::list_reports(store, all).await, output)
        }
        Command::Reports(ReportsCommand::Resolve { id, note, output }) => {
            let result = moderator.resolve_report(&actor, id, &note).await;
            (moderated(result), output)
        }
        Command::Recordings(RecordingsCommand::List { userid, output }) => (
            operations::list_recordings(store, userid.as_deref()).await,
            output,
        ),
        Command::Recordings(RecordingsCommand::Delete {
            userid,
            fileid,
            reason,
            scope,
            output,
        }) => {
            let result = moderator
                .delete_recording(&actor, &userid, &fileid, &reason, scope.local_only)
                .await;
            (moderated(result), output)
        }
        Command::Audit { limit, output } => (operations::list_audit(store, limit).await, output),
        Command::Serve
        | Command::Migrate
        | Command::Config
        | Command::ImportLegacy { .. }
        | Command::Operators(_) => {
            unreachable!("not an operator command")
        }
    };
    store.close().await;
    let printed = match result {
        Ok(printed) => printed,
        Err(error) => {
            if output.json {
                print_json_error(&error);
            }
            return Err(error);
        }
    };
    let text = if output.json {
        serde_json::to_string_pretty(&printed.json)? + "\n"
    } else {
        printed.text
    };
    // Not print!: a closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    Ok(())
}

/// With `--json`, a failed command prints what failed as JSON too: the
/// message, and the cloud's code and RequestId when the cloud refused.
fn print_json_error(error: &anyhow::Error) {
    let cloud = match error.downcast_ref::<ModerationError>() {
        Some(ModerationError::Cloud(cloud)) => Some(cloud),
        _ => None,
    };
    let value = serde_json::json!({
        "error": format!("{error:#}"),
        "code": cloud.and_then(|c| c.code()),
        "request_id": cloud.and_then(|c| c.request_id()),
    });
    let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
}
