//! The web console's operator accounts: one function per change, shared by
//! `minilvb operators` and the console's Operators page, each recorded in
//! the audit log like every moderation action (a refusal too, but not a
//! name that does not exist).

use std::sync::Arc;

use minilvb_console::{Role, check_operator_name};
use minilvb_store::{AuditEntry, OperatorAccount, OperatorRemoval, Store, StoreError};

use crate::admin::moderation::Actor;
use crate::clock::Clock;

/// Why an account change did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No operator of that name.
    #[error("{0}")]
    NotFound(String),
    /// A bad name, a name taken, the last admin.
    #[error("{0}")]
    Refused(String),
    #[error("the database failed: {0}")]
    Store(#[from] StoreError),
}

/// An operator as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperatorView {
    pub name: String,
    pub role: String,
    pub created_at: i64,
}

/// Where the accounts are kept.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The account, with its role read; a role the console does not know
    /// (a row written by hand) is an error, not a viewer.
    pub async fn find(&self, name: &str) -> Result<Option<(OperatorAccount, Role)>, AccountError> {
        match self.store.operator(name).await? {
            Some(account) => {
                let role = role_of(&account)?;
                Ok(Some((account, role)))
            }
            None => Ok(None),
        }
    }

    /// Every account, by name.
    pub async fn list(&self) -> Result<Vec<OperatorView>, AccountError> {
        Ok(self
            .store
            .operators()
            .await?
            .into_iter()
            .map(|account| OperatorView {
                name: account.name,
                role: account.role,
                created_at: account.created_at,
            })
            .collect())
    }

    /// Adds an operator with a password hashed by
    /// [`minilvb_console::hash_password`].
    pub async fn add(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<String, AccountError> {
        let result = match check_operator_name(name) {
            Err(why) => Err(AccountError::Refused(why)),
            Ok(()) => {
                let account = OperatorAccount {
                    name: name.to_owned(),
                    role: role.as_str().to_owned(),
                    password_hash: password_hash.to_owned(),
                    created_at: self.clock.now(),
                };
                match self.store.add_operator(&account).await? {
                    true => Ok(format!("operator {name} added as {role}")),
                    false => Err(AccountError::Refused(format!(
                        "an operator named {name} exists already"
                    ))),
                }
            }
        };
        self.audit(actor, "add_operator", name, result).await
    }

    /// Removes an operator and ends its login sessions; never the last admin.
    pub async fn remove(&self, actor: &Actor, name: &str) -> Result<String, AccountError> {
        let result = match self.store.remove_operator(name).await? {
            OperatorRemoval::Removed => Ok(format!("operator {name} removed")),
            OperatorRemoval::NotFound => {
                return Err(AccountError::NotFound(format!("no operator named {name}")));
            }
            OperatorRemoval::LastAdmin => Err(AccountError::Refused(format!(
                "{name} is the last admin; add another admin first"
            ))),
        };
        self.audit(actor, "remove_operator", name, result).await
    }

    /// Replaces an operator's password and ends its login sessions.
    pub async fn set_password(
        &self,
        actor: &Actor,
        name: &str,
        password_hash: &str,
    ) -> Result<String, AccountError> {
        if !self
            .store
            .set_operator_password(name, password_hash)
            .await?
        {
            return Err(AccountError::NotFound(format!("no operator named {name}")));
        }
        let done = Ok(format!("password of {name} changed; its sessions ended"));
        self.audit(actor, "set_password", name, done).await
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        name: &str,
        result: Result<String, AccountError>,
    ) -> Result<String, AccountError> {
        let outcome = match &result {
            Ok(message) => message.clone(),
            Err(error) => format!("failed: {error}"),
        };
        let entry = AuditEntry {
            id: 0,
            at: self.clock.now(),
            actor: actor.as_str().to_owned(),
            action: action.to_owned(),
            target: name.to_owned(),
            reason: String::new(),
            outcome,
        };
        self.store.record_action(&entry).await?;
        tracing::info!(
            actor = actor.as_str(),
            action,
            target = name,
            "operator account change"
        );
        result
    }
}

/// The account's role, as the console knows roles.
pub fn role_of(account: &OperatorAccount) -> Result<Role, AccountError> {
    account.role.parse().map_err(|_| {
        AccountError::Refused(format!(
            "operator {} has the unknown role {:?} in the database",
            account.name, account.role
        ))
    })
}
