//! The arguments of each command. Options go where they apply, so that a
//! command's `--help` offers only what it takes: `--listen` is `serve`'s
//! (and `config`'s, which shows what `serve` would use), not `rooms list`'s.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "minilvb",
    version,
    about = "Business server for the Mini LVB live-broadcast apps",
    after_help = "Without a command, minilvb serves: `minilvb --listen 0.0.0.0:8080` is \
                  `minilvb serve --listen 0.0.0.0:8080`. `minilvb COMMAND --help` shows a \
                  command's options."
)]
pub struct Cli {
    /// The options of `serve`, for `minilvb` without a command.
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where the settings and the data are.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// TOML configuration file (default: minilvb.toml in the working directory, if present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Database URL, e.g. sqlite:minilvb.db or postgres://USER@HOST/DB (overrides database.url).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Public listen address, e.g. 0.0.0.0:8080 (overrides server.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Log format: text for a terminal, json for a collector (overrides log.format).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Log format: text for a terminal, json for a collector (overrides log.format).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default); creates the database if there is none.
    Serve(ServeArgs),
    /// Create or upgrade the database's tables and exit.
    Migrate(MigrateArgs),
    /// Print the settings in effect (secrets redacted), each with its environment variable.
    Config(ServeArgs),
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
        args: OperatorArgs,
    },
    /// The web console's operators: add, list, remove, set a password.
    #[command(subcommand)]
    Operators(super::operators::OperatorsCommand),
    /// Copy rooms, recordings and members from an original server's
    /// database (`live_demo` on MySQL) into this one. Safe to re-run: each
    /// imported room and recording is replaced with the original's state.
    ImportLegacy {
        /// The original's database, e.g. mysql://user:password@host/live_demo.
        #[arg(long, value_name = "URL")]
        from: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

/// Where a moderation action acts.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ScopeArgs {
    /// Change the database only, without asking the cloud (when the cloud
    /// refuses or cannot be reached, and the change must be made anyway).
    #[arg(long)]
    pub local_only: bool,
}

/// The options every operator command takes.
#[derive(Debug, Clone, Default, Args)]
pub struct OperatorArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RoomsCommand {
    /// List rooms, newest session first.
    List {
        /// Only rooms that are online.
        #[arg(long)]
        online: bool,
        #[command(flatten)]
        args: OperatorArgs,
    },
    /// Show a room and its members (in the configured member order).
    Show {
        /// The VJ's userid (the room's owner).
        userid: String,
        /// How many members to show.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        args: OperatorArgs,
    },
    /// Cut the room's stream at the cloud, then set the room offline.
    Offline {
        /// The VJ's userid (the room's owner).
        userid: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        args: OperatorArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Ban a user: the cloud forbids and cuts its stream; RequestLVBAddr then fails with 4004,
    /// the room goes offline and out of the lists.
    Ban {
        /// The user to ban.
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
        args: OperatorArgs,
    },
    /// Lift a ban: the cloud resumes the stream, the user may broadcast again.
    Unban {
        /// The banned user.
        userid: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        args: OperatorArgs,
    },
    /// List banned users.
    Banned {
        #[command(flatten)]
        args: OperatorArgs,
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
        args: OperatorArgs,
    },
    /// Mark a report resolved.
    Resolve {
        /// The report's number, as `reports list` shows it.
        id: i64,
        /// What was done about it.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        args: OperatorArgs,
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
        args: OperatorArgs,
    },
    /// Delete a recording's media on VOD, then the recording, its members and likes.
    Delete {
        /// The VJ's userid.
        userid: String,
        /// The recording's fileid, as `recordings list` shows it.
        fileid: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        args: OperatorArgs,
    },
}

impl Cli {
    /// The command to run: `serve` when none is given. Options written
    /// before the command (`minilvb --database-url URL rooms list`) go to
    /// it when it takes them; one it does not take is a usage error.
    pub fn into_command(self) -> Command {
        let Cli {
            serve: top,
            command,
        } = self;
        let Some(mut command) = command else {
            return Command::Serve(top);
        };
        let (settings, listen, log_format) = command.options();
        let mut misplaced = Vec::new();
        fill(&mut settings.config, top.settings.config);
        fill(&mut settings.database_url, top.settings.database_url);
        match (listen, top.listen) {
            (Some(listen), value) => fill(listen, value),
            (None, Some(_)) => misplaced.push("--listen (serve and config take it)"),
            (None, None) => {}
        }
        match (log_format, top.log_format) {
            (Some(format), value) => fill(format, value),
            (None, Some(_)) => misplaced.push("--log-format (serve, migrate and config take it)"),
            (None, None) => {}
        }
        if !misplaced.is_empty() {
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("this command does not take {}", misplaced.join(" or ")),
                )
                .exit();
        }
        command
    }
}

/// Sets `slot` from an earlier part of the command line unless it was given later.
fn fill<T>(slot: &mut Option<T>, earlier: Option<T>) {
    if slot.is_none() {
        *slot = earlier;
    }
}

type Options<'a> = (
    &'a mut SettingsArgs,
    Option<&'a mut Option<String>>,
    Option<&'a mut Option<LogFormatArg>>,
);

impl Command {
    /// The options this command takes.
    fn options(&mut self) -> Options<'_> {
        match self {
            Command::Serve(a) | Command::Config(a) => (
                &mut a.settings,
                Some(&mut a.listen),
                Some(&mut a.log_format),
            ),
            Command::Migrate(a) => (&mut a.settings, None, Some(&mut a.log_format)),
            Command::ImportLegacy { settings, .. } => (settings, None, None),
            operator => (&mut operator.operator_args_mut().settings, None, None),
        }
    }

    /// The options of an operator command.
    pub fn operator_args(&self) -> &OperatorArgs {
        match self {
            Command::Rooms(
                RoomsCommand::List { args, .. }
                | RoomsCommand::Show { args, .. }
                | RoomsCommand::Offline { args, .. },
            )
            | Command::Users(
                UsersCommand::Ban { args, .. }
                | UsersCommand::Unban { args, .. }
                | UsersCommand::Banned { args },
            )
            | Command::Reports(
                ReportsCommand::List { args, .. } | ReportsCommand::Resolve { args, .. },
            )
            | Command::Recordings(
                RecordingsCommand::List { args, .. } | RecordingsCommand::Delete { args, .. },
            )
            | Command::Audit { args, .. } => args,
            Command::Operators(command) => command.args(),
            Command::Serve(_)
            | Command::Migrate(_)
            | Command::Config(_)
            | Command::ImportLegacy { .. } => {
                unreachable!("not an operator command")
            }
        }
    }

    fn operator_args_mut(&mut self) -> &mut OperatorArgs {
        match self {
            Command::Rooms(
                RoomsCommand::List { args, .. }
                | RoomsCommand::Show { args, .. }
                | RoomsCommand::Offline { args, .. },
            )
            | Command::Users(
                UsersCommand::Ban { args, .. }
                | UsersCommand::Unban { args, .. }
                | UsersCommand::Banned { args },
            )
            | Command::Reports(
                ReportsCommand::List { args, .. } | ReportsCommand::Resolve { args, .. },
            )
            | Command::Recordings(
                RecordingsCommand::List { args, .. } | RecordingsCommand::Delete { args, .. },
            )
            | Command::Audit { args, .. } => args,
            Command::Operators(command) => command.args_mut(),
            Command::Serve(_)
            | Command::Migrate(_)
            | Command::Config(_)
            | Command::ImportLegacy { .. } => {
                unreachable!("not an operator command")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_argument_and_command_is_described() {
        fn check(command: &clap::Command, path: &str) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{path} {id} has no description");
            }
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                assert!(sub.get_about().is_some(), "{path} has no description");
                check(sub, &path);
            }
        }
        check(&Cli::command(), "minilvb");
    }

    #[test]
    fn options_before_the_command_go_to_it() {
        let cli = Cli::parse_from(["minilvb", "--database-url", "sqlite:x.db", "rooms", "list"]);
        let command = cli.into_command();
        assert_eq!(
            command.operator_args().settings.database_url.as_deref(),
            Some("sqlite:x.db")
        );
        let cli = Cli::parse_from([
            "minilvb",
            "--listen",
            "0.0.0.0:1",
            "config",
            "--listen",
            "0.0.0.0:2",
        ]);
        let Command::Config(args) = cli.into_command() else {
            panic!("not config");
        };
        assert_eq!(
            args.listen.as_deref(),
            Some("0.0.0.0:2"),
            "the later one wins"
        );
        let rooms = Cli::try_parse_from(["minilvb", "rooms", "list", "--listen", "0.0.0.0:1"]);
        assert!(rooms.is_err(), "rooms list takes no --listen");
    }
}
