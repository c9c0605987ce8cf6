//! `minilvb operators`: the web console's accounts, from the command line
//! (the first admin is made here). Passwords are read from the terminal
//! without echo, or from standard input with `--password-stdin`, and never
//! taken as an argument (which `ps` and shell histories would show).

use std::io::Read as _;
use std::sync::Arc;

use clap::{Subcommand, ValueEnum};
use minilvb_console::{MAX_PASSWORD_LEN, Role, check_password, hash_password};

use super::OperatorArgs;
use crate::admin::accounts::{AccountError, Accounts};
use crate::admin::moderation::Actor;
use crate::admin::operations::{Output, table, utc};
use crate::clock::SystemClock;
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum OperatorsCommand {
    /// Add an operator of the web console; the password is asked for.
    Add {
        /// The operator's name, to sign in with.
        name: String,
        /// What the operator may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from standard input (one line) instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        args: OperatorArgs,
    },
    /// List the operators.
    List {
        #[command(flatten)]
        args: OperatorArgs,
    },
    /// Remove an operator; its sessions end. The last admin stays.
    Remove {
        /// The operator to remove.
        name: String,
        #[command(flatten)]
        args: OperatorArgs,
    },
    /// Set an operator's password; its sessions end.
    Passwd {
        /// The operator whose password changes.
        name: String,
        /// Read the password from standard input (one line) instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        args: OperatorArgs,
    },
}

impl OperatorsCommand {
    /// Where the settings and the data are, and the output format.
    pub fn args(&self) -> &OperatorArgs {
        match self {
            OperatorsCommand::Add { args, .. }
            | OperatorsCommand::List { args }
            | OperatorsCommand::Remove { args, .. }
            | OperatorsCommand::Passwd { args, .. } => args,
        }
    }

    pub(super) fn args_mut(&mut self) -> &mut OperatorArgs {
        match self {
            OperatorsCommand::Add { args, .. }
            | OperatorsCommand::List { args }
            | OperatorsCommand::Remove { args, .. }
            | OperatorsCommand::Passwd { args, .. } => args,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Manages the operators, and moderates.
    Admin,
    /// Forces rooms offline, bans, resolves reports, deletes recordings.
    Moderator,
    /// Looks, changes nothing.
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Moderator => Role::Moderator,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

/// What the operator got wrong (a short password, a name taken, an unknown
/// operator): printed without an error log line, exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refused(error: AccountError) -> anyhow::Error {
    match error {
        AccountError::NotFound(why) | AccountError::Refused(why) => Refused(why).into(),
        AccountError::Store(error) => anyhow::Error::new(error),
    }
}

/// Runs the command against the configured database.
pub async fn run(settings: Settings, command: OperatorsCommand) -> anyhow::Result<()> {
    // The password first: nothing is opened for a password refused.
    let new_password = match &command {
        OperatorsCommand::Add {
            name,
            password_stdin,
            ..
        }
        | OperatorsCommand::Passwd {
            name,
            password_stdin,
            ..
        } => Some(read_new_password(name, *password_stdin)?),
        _ => None,
    };
    let hash = match new_password {
        Some(password) => Some(hash_password(&password)?),
        None => None,
    };
    let store = minilvb_store::connect_existing(&settings.database, None).await?;
    let accounts = Accounts::new(store.clone(), Arc::new(SystemClock));
    let actor = Actor::cli();
    let hash = hash.as_deref().unwrap_or_default();
    let result = match command {
        OperatorsCommand::Add { name, role, .. } => accounts
            .add(&actor, &name, role.into(), hash)
            .await
            .map(|message| message + "\n"),
        OperatorsCommand::Passwd { name, .. } => accounts
            .set_password(&actor, &name, hash)
            .await
            .map(|message| message + "\n"),
        OperatorsCommand::Remove { name, .. } => accounts
            .remove(&actor, &name)
            .await
            .map(|message| message + "\n"),
        OperatorsCommand::List { args } => match list(&accounts).await {
            Ok(listed) if args.json => Ok(serde_json::to_string_pretty(&listed.json)? + "\n"),
            Ok(listed) => Ok(listed.text),
            Err(error) => Err(error),
        },
    };
    store.close().await;
    let text = result.map_err(refused)?;
    // Not print!: a closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    Ok(())
}

async fn list(accounts: &Accounts) -> Result<Output, AccountError> {
    let operators = accounts.list().await?;
    let rows = operators
        .iter()
        .map(|o| vec![o.name.clone(), o.role.clone(), utc(o.created_at)])
        .collect();
    Ok(Output {
        text: table(&["NAME", "ROLE", "ADDED (UTC)"], rows),
        json: serde_json::to_value(&operators).unwrap_or_default(),
    })
}

/// The new password: one line of standard input, or typed twice at the
/// terminal without echo; refused when too short or too long.
fn read_new_password(name: &str, from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_PASSWORD_LEN as u64 + 3)
            .read_to_string(&mut text)
            .map_err(|e| Refused(format!("cannot read the password from standard input: {e}")))?;
        let line = text.strip_suffix('\n').unwrap_or(&text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.contains('\n') {
            return Err(
                Refused("the password on standard input is more than one line".into()).into(),
            );
        }
        line.to_owned()
    } else {
        let no_terminal = |e: std::io::Error| {
            Refused(format!(
                "cannot read the password from the terminal ({e}); use --password-stdin"
            ))
        };
        let first = rpassword::prompt_password(format!("New password for {name}: "))
            .map_err(no_terminal)?;
        check_password(&first).map_err(Refused)?;
        let again = rpassword::prompt_password("Again: ").map_err(no_terminal)?;
        if again != first {
            return Err(Refused("the two passwords differ; nothing was changed".into()).into());
        }
        first
    };
    check_password(&password).map_err(Refused)?;
    Ok(password)
}
