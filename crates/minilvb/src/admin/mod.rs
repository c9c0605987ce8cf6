//! The operator's tools: one function per operation (shared by every front
//! end that offers it: the command line and the web console), the console's
//! operator accounts, the console itself, the stream-status sweep, and the
//! import of an original server's data.

pub mod accounts;
pub mod ban_end;
pub mod console;
pub mod import;
pub mod moderation;
pub mod operations;
pub mod stream_sweep;
