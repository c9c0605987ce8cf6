//! Statements bound and rows read over rusqlite, and its errors in the
//! shape the SQL store classifies.

use super::*;

pub(super) fn bind(
    statement: &mut rusqlite::CachedStatement<'_>,
    args: &[Arg<'_>],
) -> rusqlite::Result<()> {
    for (at, arg) in args.iter().enumerate() {
        match *arg {
            Arg::Text(value) => statement.raw_bind_parameter(at + 1, value)?,
            Arg::Int(value) => statement.raw_bind_parameter(at + 1, value)?,
            Arg::OptInt(value) => statement.raw_bind_parameter(at + 1, value)?,
        }
    }
    Ok(())
}
pub(super) fn fetch(
    conn: &Connection,
    statement: &str,
    args: &[Arg<'_>],
) -> rusqlite::Result<Vec<SqliteRow>> {
    let mut prepared = conn.prepare_cached(statement)?;
    bind(&mut prepared, args)?;
    let columns: Arc<[Box<str>]> = prepared.column_names().into_iter().map(Box::from).collect();
    let width = columns.len();
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for at in 0..width {
            values.push(Value::from(row.get_ref(at)?));
        }
        out.push(SqliteRow {
            columns: Arc::clone(&columns),
            values,
        });
    }
    Ok(out)
}

/// A row read into memory.
pub struct SqliteRow {
    pub(super) columns: Arc<[Box<str>]>,
    pub(super) values: Vec<Value>,
}

impl SqliteRow {
    pub(super) fn get(&self, column: &str) -> Option<&Value> {
        let at = self.columns.iter().position(|c| &**c == column)?;
        self.values.get(at)
    }
}

pub(super) fn as_int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Integer(n) => Some(*n),
        Value::Real(x) => Some(*x as i64),
        Value::Text(text) => text.trim().parse().ok(),
        Value::Null | Value::Blob(_) => None,
    }
}

impl SqlRow for SqliteRow {
    fn text(&self, column: &str) -> String {
        match self.get(column) {
            Some(Value::Text(text)) => text.clone(),
            Some(Value::Integer(n)) => n.to_string(),
            Some(Value::Blob(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        }
    }

    fn int(&self, column: &str) -> i64 {
        as_int(self.get(column)).unwrap_or(0)
    }

    fn opt_int(&self, column: &str) -> Option<i64> {
        as_int(self.get(column))
    }

    fn first_int(&self) -> Result<i64, sqlx::Error> {
        match self.values.first() {
            Some(Value::Null) => Ok(0),
            value => as_int(value)
                .ok_or_else(|| SqliteError::message("the first column is not an integer").into()),
        }
    }
}

// Errors, as sqlx's database errors, so that the store classifies them
// (busy, unique key) the same way for every database.

#[derive(Debug, Clone)]
pub struct SqliteError {
    /// The extended result code, when SQLite gave one.
    pub(super) code: Option<i32>,
    pub(super) message: String,
}

impl SqliteError {
    pub(super) fn message(message: &str) -> Self {
        Self {
            code: None,
            message: message.to_owned(),
        }
    }
}

impl From<rusqlite::Error> for SqliteError {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqliteFailure(failure, message) => Self {
                code: Some(failure.extended_code),
                message: message.unwrap_or_else(|| failure.to_string()),
            },
            other => Self {
                code: None,
                message: other.to_string(),
            },
        }
    }
}

pub(super) fn database_error(error: rusqlite::Error) -> sqlx::Error {
    SqliteError::from(error).into()
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "SQLite error {code}: {}", self.message),
            None => write!(f, "SQLite: {}", self.message),
        }
    }
}

impl std::error::Error for SqliteError {}

impl DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.map(|code| Cow::Owned(code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY.
            Some(2067 | 1555) => ErrorKind::UniqueViolation,
            Some(787) => ErrorKind::ForeignKeyViolation,
            Some(1299) => ErrorKind::NotNullViolation,
            Some(275) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}
