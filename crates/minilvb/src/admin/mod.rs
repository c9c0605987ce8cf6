//! The operator's tools: one function per operation (shared by every front
//! end that offers it), and the import of an original server's data.

pub mod import;
pub mod moderation;
pub mod operations;
