//! Leases: one row per duty, held by one node until it expires.

use super::*;

#[async_trait]
impl<DB: Dialect> Leases for SqlStore<DB> {
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        let until = now_ms.saturating_add(ttl_ms);
        transaction!(self, "take_lease", |tx| {
            let lock = format!(
                "SELECT holder, expires_ms FROM leases WHERE name = ?{}",
                DB::FOR_UPDATE
            );
            let current = Self::fetch(tx, &lock, args![name]).await?;
            let Some(row) = current.first() else {
                // Two nodes inserting at once: the loser's unique-key
                // conflict re-runs it, and it then finds the winner's row.
                Self::exec(
                    tx,
                    "INSERT INTO leases (name, holder, expires_ms) VALUES (?, ?, ?)",
                    args![name, holder, until],
                )
                .await?;
                return Ok(true);
            };
            if text(row, "holder") != holder && int(row, "expires_ms") > now_ms {
                return Ok(false);
            }
            // Written even when only renewed: on Galera, the write is what
            // orders two nodes' takeovers.
            Self::exec(
                tx,
                "UPDATE leases SET holder = ?, expires_ms = ? WHERE name = ?",
                args![holder, until, name],
            )
            .await?;
            Ok(true)
        })
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.write(
            "DELETE FROM leases WHERE name = ? AND holder = ?",
            args![name, holder],
        )
        .await
        .map(drop)
    }
}
