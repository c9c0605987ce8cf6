//! The readers: a connection per thread reading at once, kept between
//! reads up to `database.max_connections`.

use super::*;

// Reads.

/// Read-only connections, opened as concurrent reads need them (a read
/// never yields while it runs, so there are about as many as threads
/// running requests); up to `keep` of them are kept between reads.
pub(super) struct Readers {
    pub(super) path: PathBuf,
    pub(super) idle: Mutex<Vec<Connection>>,
    pub(super) open: AtomicUsize,
    pub(super) keep: usize,
}

impl Readers {
    pub(super) fn lend(self: &Arc<Self>) -> Result<ReadConn, sqlx::Error> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = connect(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .map_err(database_error)?;
                conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)
                    .map_err(database_error)?;
                self.open.fetch_add(1, Ordering::Relaxed);
                conn
            }
        };
        Ok(ReadConn {
            conn: Some(conn),
            home: Arc::clone(self),
        })
    }
}

pub struct ReadConn {
    pub(super) conn: Option<Connection>,
    pub(super) home: Arc<Readers>,
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.home.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.home.keep {
                idle.push(conn);
            } else {
                drop(idle);
                drop(conn);
                self.home.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// A connection lent for a read.
pub enum Lent {
    Reader(ReadConn),
    /// An in-memory database has one connection.
    Writer(OwnedMutexGuard<WriterState>),
}

impl Deref for Lent {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Lent::Reader(reader) => reader.conn.as_ref().expect("lent connection"),
            Lent::Writer(writer) => &writer.conn,
        }
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut Connection {
        match self {
            Lent::Reader(reader) => reader.conn.as_mut().expect("lent connection"),
            Lent::Writer(writer) => &mut writer.conn,
        }
    }
}
