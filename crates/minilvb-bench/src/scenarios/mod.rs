//! The scenarios: what each seeds, what each connection sends, and what is
//! checked afterwards.
//!
//! Every request is one the apps send (`reference/tencent-cloud.md` section
//! 2, key order as Android sends them) and every one expects `returnValue` 0:
//! anything else counts as an error. Workers that write (likes, enters,
//! quits) keep a model of what the server acknowledged, and the scenario
//! checks the server's counts against it exactly.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::client::Conn;
use super::{Check, Sizes};
use minilvb_protocol::cloud;
use minilvb_protocol::{Group, UserInfo};
use minilvb_store::{ImportedRoom, NewMember, NewRecording, NewSession, Store, StoreError};

/// The BIZID of seeded stream ids (the demo settings' one).
const BIZID: &str = "8888";
/// Concurrent seeding tasks: enough to keep a networked database busy.
const SEED_TASKS: usize = 16;
/// The page size the apps ask for.
const PAGE: usize = 20;

/// The scenarios of the load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScenarioKind {
    /// The same HTTP stack answering a fixed envelope with no work.
    Baseline,
    /// FetchList flags 1, 2, 3 (first and random pages) and GetUserInfo over
    /// many rooms and recordings.
    List,
    /// Every connection likes the same room.
    Likes,
    /// Viewers entering and quitting rooms, one of them huge.
    Churn,
    /// A weighted mix of every action, as the apps produce them.
    Mixed,
    /// Page-1 latency at a small and at a large size.
    Scale,
}

impl ScenarioKind {
    pub const ALL: [ScenarioKind; 6] = [
        ScenarioKind::Baseline,
        ScenarioKind::List,
        ScenarioKind::Likes,
        ScenarioKind::Churn,
        ScenarioKind::Mixed,
        ScenarioKind::Scale,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Baseline => "baseline",
            ScenarioKind::List => "list",
            ScenarioKind::Likes => "likes",
            ScenarioKind::Churn => "churn",
            ScenarioKind::Mixed => "mixed",
            ScenarioKind::Scale => "scale",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one connection does.
pub trait Worker: Send + 'static {
    /// Writes the next request's JSON body; returns its operation's index.
    fn next(&mut self, rng: &mut SmallRng, body: &mut Vec<u8>) -> usize;
    /// Learns how the last request ended: `Some(returnValue)`, or `None`
    /// when no reply came. Returns whether that was the expected answer.
    fn outcome(&mut self, op: usize, return_value: Option<i64>) -> bool {
        let _ = op;
        return_value == Some(0)
    }
}

/// A scenario: its seed, its workers, its checks.
pub trait Scenario {
    type Worker: Worker;
    /// Names of the operations, indexed as the workers return them.
    fn ops(&self) -> &'static [&'static str];
    fn seed(&mut self, store: &Arc<dyn Store>) -> impl Future<Output = anyhow::Result<()>>;
    /// The workers, kept from phase to phase with their state.
    fn pool(&mut self) -> &mut Pool<Self::Worker>;
    /// Checks the server's state against what the workers saw acknowledged.
    fn check(&self, http: &mut Checker) -> impl Future<Output = anyhow::Result<Vec<Check>>>;
}

/// Keeps workers by index, so that each phase continues with the same state.
pub struct Pool<W> {
    workers: Vec<Option<W>>,
    make: Box<dyn Fn(usize) -> W>,
}

impl<W> Pool<W> {
    fn new(make: impl Fn(usize) -> W + 'static) -> Self {
        Self {
            workers: Vec::new(),
            make: Box::new(make),
        }
    }

    /// The first `n` workers, made as needed.
    pub fn take(&mut self, n: usize) -> Vec<W> {
        while self.workers.len() < n {
            let index = self.workers.len();
            self.workers.push(Some((self.make)(index)));
        }
        self.workers[..n]
            .iter_mut()
            .map(|w| w.take().expect("workers are returned after each phase"))
            .collect()
    }

    pub fn put_back(&mut self, workers: Vec<W>) {
        for (slot, worker) in self.workers.iter_mut().zip(workers) {
            *slot = Some(worker);
        }
    }

    fn all(&self) -> impl Iterator<Item = &W> {
        self.workers.iter().flatten()
    }
}

/// Picks an index by weight.
fn pick(rng: &mut SmallRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut at = rng.random_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if at < w {
            return i;
        }
        at -= w;
    }
    weights.len() - 1
}

fn random_page(rng: &mut SmallRng, items: usize) -> usize {
    rng.random_range(1..=items.div_ceil(PAGE).max(1))
}

mod baseline;
mod checker;
mod churn;
mod likes;
mod list;
mod mixed;
mod requests;
mod scale;
mod seed;
#[cfg(test)]
mod tests;

pub use baseline::*;
pub use checker::*;
pub use churn::*;
pub use likes::*;
pub use list::*;
pub use mixed::*;
use requests::*;
pub use scale::*;
use seed::*;
