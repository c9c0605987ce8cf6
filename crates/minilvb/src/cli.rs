//! The command line: `serve` (the default), `migrate`, `config`,
//! `import-legacy` and the operator's commands, each with only the options
//! that apply to it.
//!
//! Exit codes: 0 done; 1 the command failed while running; 2 it could not
//! start (the command line, a setting, the database or the port). Each
//! failure is one message on stderr.

mod args;
mod operators;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

pub use args::*;

use crate::admin::ban_end::parse_ban_end;
use crate::admin::moderation::{Actor, ModerationError, Moderator, Outcome as ActionOutcome};
use crate::config::{LogFormat, Overrides, Settings, unknown_variables};
use crate::{Application, telemetry};

/// Why a command stopped.
enum Failure {
    /// Before it got going: exit code 2.
    Startup(anyhow::Error),
    /// While it ran: exit code 1.
    Runtime(anyhow::Error),
}

type Outcome = Result<(), Failure>;

pub fn main() -> ExitCode {
    let command = Cli::parse().into_command();
    let (path, overrides) = command.settings_sources();
    let settings = match Settings::load(path.as_deref(), &overrides) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("minilvb: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let names = std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned());
    for warning in unknown_variables(names) {
        tracing::warn!("{warning}");
    }
    if let Command::Config(_) = command {
        print!("{}", settings.to_redacted_toml());
        return ExitCode::SUCCESS;
    }
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
        match command {
            Command::Serve(_) => serve(settings).await,
            Command::Migrate(_) => migrate(settings).await,
            Command::ImportLegacy { from, .. } => import_legacy(settings, &from).await,
            Command::Config(_) => Ok(()),
            Command::Operators(command) => operators::run(settings, command)
                .await
                .map_err(Failure::Runtime),
            operator => operate(settings, operator).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Startup(error)) => {
            eprintln!("minilvb: {error:#}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(error)) => {
            eprintln!("minilvb: {}", in_words(&error));
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// The configuration file and the values the command line overrides.
    fn settings_sources(&self) -> (Option<std::path::PathBuf>, Overrides) {
        let (settings, listen, log_format) = match self {
            Command::Serve(a) | Command::Config(a) => (&a.settings, a.listen.clone(), a.log_format),
            Command::Migrate(a) => (&a.settings, None, a.log_format),
            Command::ImportLegacy { settings, .. } => (settings, None, None),
            operator => (&operator.operator_args().settings, None, None),
        };
        let overrides = Overrides {
            listen,
            database_url: settings.database_url.clone(),
            log_format: log_format.map(|f| match f {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            }),
        };
        (settings.config.clone(), overrides)
    }
}

/// An error's chain in one line, each cause once. A database that is not
/// there gets what to do about it: the operator's commands never create one.
fn in_words(error: &anyhow::Error) -> String {
    match error.downcast_ref::<minilvb_store::diagnosis::NoDatabase>() {
        Some(missing) => format!(
            "{missing}, and this command does not create one. Point it at the server's \
             database with --database-url URL, with database.url in the configuration file \
             (--config PATH) or with MINILVB_DATABASE__URL, or run it in the server's \
             working directory (`minilvb migrate` creates a new, empty database)"
        ),
        None => format!("{error:#}"),
    }
}

async fn migrate(settings: Settings) -> Outcome {
    let store = minilvb_store::connect(&settings.database, None)
        .await
        .map_err(Failure::Startup)?;
    store.close().await;
    tracing::info!(database = %crate::redact_url(&settings.database.url), "migrations applied");
    Ok(())
}

async fn import_legacy(settings: Settings, from: &str) -> Outcome {
    let run = async {
        let store = minilvb_store::connect_existing(&settings.database, None).await?;
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let result =
            crate::admin::import::import_legacy(from, store.as_ref(), &settings, now).await;
        store.close().await;
        let report = result?;
        tracing::info!(?report, from = %crate::redact_url(from), "import finished");
        println!(
            "imported {} rooms, {} recordings, {} members; {} members of unknown groups \
             skipped, {} rooms got a new stream id",
            report.rooms,
            report.recordings,
            report.members,
            report.orphan_members,
            report.renamed_streams
        );
        anyhow::Ok(())
    };
    run.await.map_err(Failure::Runtime)
}

async fn serve(settings: Settings) -> Outcome {
    let demo = settings.demo_settings();
    let database = crate::redact_url(&settings.database.url);
    let shutdown = shutdown_signal();
    let app = Application::build(settings)
        .await
        .map_err(Failure::Startup)?;
    // Said once it serves, beside the address: a start that failed has
    // its one message, and nothing else.
    if !demo.is_empty() {
        tracing::warn!(
            settings = %demo.join(", "),
            "RUNNING ON DEMO VALUES: push URLs, callbacks and upload signatures will not work \
             with the real cloud. Set these (e.g. MINILVB_LIVE__PUSH_KEY) before going live."
        );
    }
    let metrics = match app.metrics_addr() {
        Some(addr) => format!("http://{addr}/metrics"),
        None => "off (set metrics.listen to serve them)".into(),
    };
    tracing::info!(
        address = %app.local_addr(),
        %database,
        %metrics,
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
    app.run_until(shutdown).await.map_err(Failure::Runtime)?;
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

/// Runs an operator command against the configured database, which must
/// exist (and, for the moderation actions, the cloud).
async fn operate(settings: Settings, command: Command) -> Outcome {
    use crate::admin::operations;
    use crate::clock::SystemClock;

    let store = minilvb_store::connect_existing(&settings.database, None)
        .await
        .map_err(Failure::Runtime)?;
    let moderator = match Moderator::new(store.clone(), Arc::new(SystemClock), &settings) {
        Ok(moderator) => moderator,
        Err(error) => {
            store.close().await;
            return Err(Failure::Startup(
                anyhow::Error::new(error).context("cloud_api"),
            ));
        }
    };
    let actor = Actor::cli();
    let json = command.operator_args().json;
    let store_ref = store.as_ref();
    let order = settings.members.order;
    let moderated = |result: Result<ActionOutcome, ModerationError>| match result {
        Ok(outcome) => operations::moderated(&outcome),
        Err(error) => Err(error.into()),
    };
    let result = match command {
        Command::Rooms(RoomsCommand::List { online, .. }) => {
            operations::list_rooms(store_ref, online).await
        }
        Command::Rooms(RoomsCommand::Show { userid, limit, .. }) => {
            operations::show_room(store_ref, &userid, order, limit).await
        }
        Command::Rooms(RoomsCommand::Offline {
            userid,
            reason,
            scope,
            ..
        }) => moderated(
            moderator
                .force_offline(&actor, &userid, &reason, scope.local_only)
                .await,
        ),
        Command::Users(UsersCommand::Ban {
            userid,
            reason,
            until,
            scope,
            ..
        }) => {
            let asks_cloud = moderator.cloud().is_some() && !scope.local_only;
            let limit = asks_cloud.then_some(minilvb_cloud::MAX_FORBID_SECONDS);
            let end = until
                .map(|text| parse_ban_end(&text, moderator.now(), limit))
                .transpose();
            match end {
                Err(why) => Err(operations::BadInput(why).into()),
                Ok(end) => moderated(
                    moderator
                        .ban(&actor, &userid, &reason, end, scope.local_only)
                        .await,
                ),
            }
        }
        Command::Users(UsersCommand::Unban {
            userid,
            reason,
            scope,
            ..
        }) => moderated(
            moderator
                .unban(&actor, &userid, &reason, scope.local_only)
                .await,
        ),
        Command::Users(UsersCommand::Banned { .. }) => operations::list_bans(store_ref).await,
        Command::Reports(ReportsCommand::List { all, .. }) => {
            operations::list_reports(store_ref, all).await
        }
        Command::Reports(ReportsCommand::Resolve { id, note, .. }) => {
            moderated(moderator.resolve_report(&actor, id, &note).await)
        }
        Command::Recordings(RecordingsCommand::List { userid, .. }) => {
            operations::list_recordings(store_ref, userid.as_deref()).await
        }
        Command::Recordings(RecordingsCommand::Delete {
            userid,
            fileid,
            reason,
            scope,
            ..
        }) => moderated(
            moderator
                .delete_recording(&actor, &userid, &fileid, &reason, scope.local_only)
                .await,
        ),
        Command::Audit { limit, .. } => operations::list_audit(store_ref, limit).await,
        Command::Serve(_)
        | Command::Migrate(_)
        | Command::Config(_)
        | Command::ImportLegacy { .. }
        | Command::Operators(_) => {
            unreachable!("not an operator command")
        }
    };
    store.close().await;
    let printed = match result {
        Ok(printed) => printed,
        Err(error) => {
            if json {
                print_json_error(&error);
            }
            return Err(Failure::Runtime(error));
        }
    };
    let text = if json {
        serde_json::to_string_pretty(&printed.json).map_err(|e| Failure::Runtime(e.into()))? + "\n"
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
