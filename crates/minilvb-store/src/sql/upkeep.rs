//! Upkeep: ping, statistics, pools, shutdown.

use super::*;

#[async_trait]
impl<DB: Dialect> Upkeep for SqlStore<DB> {
    async fn ping(&self) -> StoreResult<()> {
        self.read("SELECT 1", &[]).await.map(drop)
    }

    fn write_failure(&self) -> Option<String> {
        self.writes.failure()
    }

    async fn probe_write(&self, now: i64) -> StoreResult<()> {
        // A changed value: the page is written, so a full disk fails it.
        self.write(
            "UPDATE write_probe SET written_at = ? WHERE id = 1",
            args![now],
        )
        .await
        .map(drop)
    }

    async fn foreign_writes(&self) -> StoreResult<Option<u64>> {
        Ok(DB::foreign_writes(&self.pools).await)
    }

    async fn analyze(&self) -> StoreResult<()> {
        match DB::ANALYZE {
            Some(statement) => self.write(statement, &[]).await.map(drop),
            None => Ok(()),
        }
    }

    async fn count_members(&self) -> StoreResult<i64> {
        self.read_count("SELECT COUNT(*) FROM members", &[]).await
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        DB::pool_stats(&self.pools)
    }

    async fn close(&self) {
        DB::close(&self.pools).await
    }
}
