//! Versioned migrations, embedded in the binary, one folder per backend.
//! sqlx's migrator records what ran (`_sqlx_migrations`) and refuses a
//! changed migration, so a file here is never edited once released: add one.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// (version, description, SQL) triples.
#[derive(Debug, Clone, Copy)]
pub struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> futures_core::future::BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub const SQLITE: Embedded = Embedded(&[
    (
        1,
        "rooms recordings members",
        include_str!("migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "callbacks",
        include_str!("migrations/sqlite/0002_callbacks.sql"),
    ),
    (
        3,
        "operator",
        include_str!("migrations/sqlite/0003_operator.sql"),
    ),
    (
        4,
        "member kind in the key",
        include_str!("migrations/sqlite/0004_member_kind.sql"),
    ),
]);

pub async fn migrator(source: Embedded) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(source).await
}
