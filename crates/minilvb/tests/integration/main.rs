//! Integration tests: the real server on port 0, a fresh database per test,
//! spoken to over HTTP the way the apps and the cloud do.
//!
//! Every test is written once with `backend_test!` and runs against each
//! backend (see `common`).

mod common;
mod nodes;
mod proxy;

mod apps;
mod auth;
mod callbacks;
mod cli;
mod cloud_moderation;
mod configuration_doc;
mod connections;
mod console;
mod extra_actions;
mod fuzz;
mod galera;
mod import;
mod limits;
mod lists;
mod members;
mod multinode;
mod operator;
mod ops;
mod outage;
mod protocol;
mod ratelimit;
mod raw;
mod rooms;
mod shutdown;
mod startup;
mod stream_sweep;
mod uploads;
mod write_faults;
