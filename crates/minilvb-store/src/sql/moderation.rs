//! Moderation: reports, bans, deleting a recording.

use super::*;

#[async_trait]
impl<DB: Dialect> Moderation for SqlStore<DB> {
    async fn add_report(&self, reporter: &str, reported: &str, now: i64) -> StoreResult<i64> {
        // Two nodes recording the same first report at once both find none
        // open and insert: the unique index on open reports fails the
        // second insert, a conflict, and the re-run counts on the first.
        const OPEN: &str = "SELECT id FROM reports WHERE resolved_at IS NULL AND reported = ? \
             AND reporter = ? ORDER BY id DESC";
        transaction!(self, "add_report", |tx| {
            let open = Self::fetch(tx, OPEN, args![reported, reporter]).await?;
            if let Some(row) = open.first() {
                let id = int(row, "id");
                Self::exec(
                    tx,
                    "UPDATE reports SET times = times + 1, last_at = ? WHERE id = ?",
                    args![now, id],
                )
                .await?;
                return Ok(id);
            }
            Self::exec(
                tx,
                "INSERT INTO reports (reporter, reported, created_at, last_at) \
                 VALUES (?, ?, ?, ?)",
                args![reporter, reported, now, now],
            )
            .await?;
            // Our own insert is the newest open report of the pair.
            let open = Self::fetch(tx, OPEN, args![reported, reporter]).await?;
            Ok(open.first().map(|row| int(row, "id")).unwrap_or_default())
        })
    }

    async fn reports(&self, include_resolved: bool) -> StoreResult<Vec<Report>> {
        let filter = if include_resolved {
            ""
        } else {
            "WHERE resolved_at IS NULL"
        };
        let statement = format!(
            "SELECT id, reporter, reported, times, created_at, last_at, resolved_at, resolution \
             FROM reports {filter} ORDER BY id DESC"
        );
        let rows = self.read(&statement, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| Report {
                id: int(row, "id"),
                reporter: text(row, "reporter"),
                reported: text(row, "reported"),
                times: int(row, "times"),
                created_at: int(row, "created_at"),
                last_at: int(row, "last_at"),
                resolved_at: row.opt_int("resolved_at"),
                resolution: text(row, "resolution"),
            })
            .collect())
    }

    async fn resolve_report(&self, id: i64, resolution: &str, now: i64) -> StoreResult<bool> {
        let changed = self
            .write(
                "UPDATE reports SET resolved_at = ?, resolution = ? WHERE id = ? \
                 AND resolved_at IS NULL",
                args![now, resolution, id],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn ban(
        &self,
        userid: &str,
        reason: &str,
        now: i64,
        ends_at: Option<i64>,
    ) -> StoreResult<bool> {
        transaction!(self, "ban", |tx| {
            let lock = format!("SELECT userid FROM bans WHERE userid = ?{}", DB::FOR_UPDATE);
            let added = !Self::found(tx, &lock, args![userid]).await?;
            if added {
                Self::exec(
                    tx,
                    "INSERT INTO bans (userid, reason, created_at, ends_at) VALUES (?, ?, ?, ?)",
                    args![userid, reason, now, ends_at],
                )
                .await?;
            } else {
                Self::exec(
                    tx,
                    "UPDATE bans SET reason = ?, ends_at = ? WHERE userid = ?",
                    args![reason, ends_at, userid],
                )
                .await?;
            }
            Self::exec(
                tx,
                "UPDATE rooms SET online = 0, status_at = ? WHERE userid = ?",
                args![now, userid],
            )
            .await?;
            Ok(added)
        })
    }

    async fn unban(&self, userid: &str) -> StoreResult<bool> {
        let removed = self
            .write("DELETE FROM bans WHERE userid = ?", args![userid])
            .await?;
        Ok(removed > 0)
    }

    async fn is_banned(&self, userid: &str, now: i64) -> StoreResult<bool> {
        let rows = self
            .read(
                "SELECT 1 FROM bans WHERE userid = ? AND (ends_at IS NULL OR ends_at > ?)",
                args![userid, now],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn lift_ended_bans(&self, now: i64) -> StoreResult<Vec<String>> {
        transaction!(self, "lift_ended_bans", |tx| {
            let ended = format!(
                "SELECT userid FROM bans WHERE ends_at <= ? ORDER BY userid{}",
                DB::FOR_UPDATE
            );
            let userids: Vec<String> = Self::fetch(tx, &ended, args![now])
                .await?
                .iter()
                .map(|row| text(row, "userid"))
                .collect();
            for userid in &userids {
                Self::exec(tx, "DELETE FROM bans WHERE userid = ?", args![userid]).await?;
            }
            Ok(userids)
        })
    }

    async fn record_action(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.write(
            "INSERT INTO audit_log (at, actor, action, target, reason, outcome) \
             VALUES (?, ?, ?, ?, ?, ?)",
            args![
                entry.at,
                &entry.actor,
                &entry.action,
                &entry.target,
                &entry.reason,
                &entry.outcome
            ],
        )
        .await
        .map(drop)
    }

    async fn audit_log(&self, offset: i64, limit: i64) -> StoreResult<(i64, Vec<AuditEntry>)> {
        let total = self
            .read_count("SELECT COUNT(*) FROM audit_log", &[])
            .await?;
        let rows = self
            .read(
                "SELECT id, at, actor, action, target, reason, outcome FROM audit_log \
                 ORDER BY id DESC LIMIT ? OFFSET ?",
                args![limit, offset],
            )
            .await?;
        let entries = rows
            .iter()
            .map(|row| AuditEntry {
                id: int(row, "id"),
                at: int(row, "at"),
                actor: text(row, "actor"),
                action: text(row, "action"),
                target: text(row, "target"),
                reason: text(row, "reason"),
                outcome: text(row, "outcome"),
            })
            .collect();
        Ok((total, entries))
    }

    async fn bans(&self) -> StoreResult<Vec<Ban>> {
        let rows = self
            .read(
                "SELECT userid, reason, created_at, ends_at FROM bans \
                 ORDER BY created_at DESC, userid",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| Ban {
                userid: text(row, "userid"),
                reason: text(row, "reason"),
                created_at: int(row, "created_at"),
                ends_at: row.opt_int("ends_at"),
            })
            .collect())
    }

    async fn delete_recording(&self, userid: &str, fileid: &str) -> StoreResult<bool> {
        transaction!(self, "delete_recording", |tx| {
            let deleted = Self::exec(
                tx,
                "DELETE FROM recordings WHERE userid = ? AND fileid = ?",
                args![userid, fileid],
            )
            .await?
                > 0;
            Self::exec(
                tx,
                "DELETE FROM members WHERE anchor = ? AND group_key = ? AND kind = 1",
                args![userid, fileid],
            )
            .await?;
            Self::clear_likes(tx, (userid, 1, fileid)).await?;
            // The files stay keyed by notice, so that a late repeat of a
            // deleted recording's notice does not bring it back.
            Ok(deleted)
        })
    }
}
