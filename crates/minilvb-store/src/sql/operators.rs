//! Operators: the web console's accounts and login sessions.

use super::*;
use crate::model::{ADMIN_ROLE, ConsoleSession, OperatorAccount, OperatorRemoval};
use crate::roles::Operators;

const ACCOUNT_COLUMNS: &str = "name, role, password_hash, created_at";

fn account(row: &impl SqlRow) -> OperatorAccount {
    OperatorAccount {
        name: text(row, "name"),
        role: text(row, "role"),
        password_hash: text(row, "password_hash"),
        created_at: int(row, "created_at"),
    }
}

#[async_trait]
impl<DB: Dialect> Operators for SqlStore<DB> {
    async fn operator(&self, name: &str) -> StoreResult<Option<OperatorAccount>> {
        let statement = format!("SELECT {ACCOUNT_COLUMNS} FROM operators WHERE name = ?");
        let rows = self.read(&statement, args![name]).await?;
        Ok(rows.first().map(account))
    }

    async fn operators(&self) -> StoreResult<Vec<OperatorAccount>> {
        let statement = format!("SELECT {ACCOUNT_COLUMNS} FROM operators ORDER BY name");
        let rows = self.read(&statement, &[]).await?;
        Ok(rows.iter().map(account).collect())
    }

    async fn add_operator(&self, account: &OperatorAccount) -> StoreResult<bool> {
        transaction!(self, "add_operator", |tx| {
            // Looked for first: a unique-key error would be taken for a
            // race and re-run. Two adds of one name at once: the loser's
            // re-run finds the winner's row.
            let lock = format!(
                "SELECT name FROM operators WHERE name = ?{}",
                DB::FOR_UPDATE
            );
            if Self::found(tx, &lock, args![&account.name]).await? {
                return Ok(false);
            }
            Self::exec(
                tx,
                "INSERT INTO operators (name, role, password_hash, created_at) \
                 VALUES (?, ?, ?, ?)",
                args![
                    &account.name,
                    &account.role,
                    &account.password_hash,
                    account.created_at
                ],
            )
            .await?;
            Ok(true)
        })
    }

    async fn remove_operator(&self, name: &str) -> StoreResult<OperatorRemoval> {
        transaction!(self, "remove_operator", |tx| {
            // The admins' rows locked together, so that two removals of
            // two admins at once cannot both see the other one remaining.
            let admins = format!(
                "SELECT name FROM operators WHERE role = ? ORDER BY name{}",
                DB::FOR_UPDATE
            );
            let admins: Vec<String> = Self::fetch(tx, &admins, args![ADMIN_ROLE])
                .await?
                .iter()
                .map(|row| text(row, "name"))
                .collect();
            if admins.len() == 1 && admins[0] == name {
                return Ok(OperatorRemoval::LastAdmin);
            }
            let removed =
                Self::exec(tx, "DELETE FROM operators WHERE name = ?", args![name]).await?;
            if removed == 0 {
                return Ok(OperatorRemoval::NotFound);
            }
            Self::exec(
                tx,
                "DELETE FROM console_sessions WHERE operator = ?",
                args![name],
            )
            .await?;
            Ok(OperatorRemoval::Removed)
        })
    }

    async fn set_operator_password(&self, name: &str, password_hash: &str) -> StoreResult<bool> {
        transaction!(self, "set_operator_password", |tx| {
            let changed = Self::exec(
                tx,
                "UPDATE operators SET password_hash = ? WHERE name = ?",
                args![password_hash, name],
            )
            .await?;
            if changed == 0 {
                return Ok(false);
            }
            Self::exec(
                tx,
                "DELETE FROM console_sessions WHERE operator = ?",
                args![name],
            )
            .await?;
            Ok(true)
        })
    }

    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        transaction!(self, "create_console_session", |tx| {
            Self::exec(
                tx,
                "DELETE FROM console_sessions WHERE expires_at <= ?",
                args![session.created_at],
            )
            .await?;
            Self::exec(
                tx,
                "INSERT INTO console_sessions (id, operator, csrf_token, created_at, expires_at) \
                 VALUES (?, ?, ?, ?, ?)",
                args![
                    &session.id,
                    &session.operator,
                    &session.csrf_token,
                    session.created_at,
                    session.expires_at
                ],
            )
            .await?;
            Ok(())
        })
    }

    async fn console_session(&self, id: &str) -> StoreResult<Option<(ConsoleSession, String)>> {
        let rows = self
            .read(
                "SELECT s.id AS id, s.operator AS operator, s.csrf_token AS csrf_token, \
                 s.created_at AS created_at, s.expires_at AS expires_at, o.role AS role \
                 FROM console_sessions s JOIN operators o ON o.name = s.operator \
                 WHERE s.id = ?",
                args![id],
            )
            .await?;
        Ok(rows.first().map(|row| {
            let session = ConsoleSession {
                id: text(row, "id"),
                operator: text(row, "operator"),
                csrf_token: text(row, "csrf_token"),
                created_at: int(row, "created_at"),
                expires_at: int(row, "expires_at"),
            };
            (session, text(row, "role"))
        }))
    }

    async fn touch_console_session(&self, id: &str, expires_at: i64) -> StoreResult<()> {
        self.write(
            "UPDATE console_sessions SET expires_at = ? WHERE id = ?",
            args![expires_at, id],
        )
        .await
        .map(drop)
    }

    async fn delete_console_session(&self, id: &str) -> StoreResult<()> {
        self.write("DELETE FROM console_sessions WHERE id = ?", args![id])
            .await
            .map(drop)
    }
}
