//! Versioned migrations, embedded in the binary, one folder per backend.
//! sqlx's migrator records what ran (`_sqlx_migrations`) and refuses a
//! changed migration. One node migrates at a time: under sqlx's lock on
//! PostgreSQL (an advisory lock) and SQLite (the file's), under a lock row
//! of our own on MySQL, which holds across the nodes of a Galera cluster
//! too (see `mysql.rs`); so several nodes may start at once. A file here is
//! never edited once released: add one.

use std::borrow::Cow;

use sha2::{Digest, Sha384};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// (version, description, SQL) triples.
#[derive(Debug, Clone, Copy)]
pub struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

/// The same versions on every backend: version N is the same schema.
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
    (
        5,
        "like slots, recording notices lock the room",
        include_str!("migrations/sqlite/0005_cluster.sql"),
    ),
    (
        6,
        "members keyed by group",
        include_str!("migrations/sqlite/0006_members_by_group.sql"),
    ),
    (
        7,
        "one open report per pair, the write probe",
        include_str!("migrations/sqlite/0007_one_open_report.sql"),
    ),
    (
        8,
        "moderation: ban ends, audit log, leases",
        include_str!("migrations/sqlite/0008_moderation.sql"),
    ),
]);

pub const POSTGRES: Embedded = Embedded(&[
    (
        1,
        "rooms recordings members",
        include_str!("migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "callbacks",
        include_str!("migrations/postgres/0002_callbacks.sql"),
    ),
    (
        3,
        "operator",
        include_str!("migrations/postgres/0003_operator.sql"),
    ),
    (
        4,
        "member kind in the key",
        include_str!("migrations/postgres/0004_member_kind.sql"),
    ),
    (
        5,
        "like slots, recording notices lock the room",
        include_str!("migrations/postgres/0005_cluster.sql"),
    ),
    // Version 6 is SQLite's alone (its members table's layout).
    (
        7,
        "one open report per pair, the write probe",
        include_str!("migrations/postgres/0007_one_open_report.sql"),
    ),
    (
        8,
        "moderation: ban ends, audit log, leases",
        include_str!("migrations/postgres/0008_moderation.sql"),
    ),
]);

/// MySQL and MariaDB. `{{text}}` stands for the binary, no-pad collation
/// of the server (see `mysql.rs`).
pub const MYSQL: Embedded = Embedded(&[
    (
        1,
        "rooms recordings members",
        include_str!("migrations/mysql/0001_init.sql"),
    ),
    (
        2,
        "callbacks",
        include_str!("migrations/mysql/0002_callbacks.sql"),
    ),
    (
        3,
        "operator",
        include_str!("migrations/mysql/0003_operator.sql"),
    ),
    (
        4,
        "member kind in the key",
        include_str!("migrations/mysql/0004_member_kind.sql"),
    ),
    (
        5,
        "like slots, recording notices lock the room",
        include_str!("migrations/mysql/0005_cluster.sql"),
    ),
    // Version 6 is SQLite's alone (its members table's layout).
    (
        7,
        "one open report per pair, the write probe",
        include_str!("migrations/mysql/0007_one_open_report.sql"),
    ),
    (
        8,
        "moderation: ban ends, audit log, leases",
        include_str!("migrations/mysql/0008_moderation.sql"),
    ),
]);

/// Migrations rendered for one server.
#[derive(Debug)]
struct Rendered(Vec<Migration>);

impl MigrationSource<'static> for Rendered {
    fn resolve(
        self,
    ) -> futures_core::future::BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.0) })
    }
}

/// The migrator for `source`, each migration's text passed through
/// `render`. The recorded checksum is the template's, so a server that
/// renders a template differently (say, after an upgrade brings a better
/// collation) does not see its applied migrations as changed.
pub async fn migrator(
    source: Embedded,
    render: impl Fn(&str) -> String,
) -> Result<Migrator, sqlx::migrate::MigrateError> {
    let migrations = source
        .0
        .iter()
        .map(|&(version, description, template)| {
            let mut migration = Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Owned(render(template)),
                false,
            );
            migration.checksum = Cow::Owned(Sha384::digest(template.as_bytes()).to_vec());
            migration
        })
        .collect();
    Migrator::new(Rendered(migrations)).await
}
