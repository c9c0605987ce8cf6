//! `baseline`: the server's HTTP stack with no work behind it.

use super::*;

pub struct Baseline {
    pub(super) pool: Pool<BaselineWorker>,
}

pub struct BaselineWorker;

impl Worker for BaselineWorker {
    fn next(&mut self, _rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        // The size of a typical request; the baseline does not read it.
        body.extend_from_slice(br#"{"Action":"GetUserInfo","userid":"vj-1","type":0,"fileid":""}"#);
        0
    }
}

impl Baseline {
    pub fn new() -> Self {
        Self {
            pool: Pool::new(|_| BaselineWorker),
        }
    }
}

impl Scenario for Baseline {
    type Worker = BaselineWorker;

    fn ops(&self) -> &'static [&'static str] {
        &["fixed envelope"]
    }

    async fn seed(&mut self, _store: &Arc<dyn Store>) -> anyhow::Result<()> {
        Ok(())
    }

    fn pool(&mut self) -> &mut Pool<BaselineWorker> {
        &mut self.pool
    }

    async fn check(&self, _http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        Ok(Vec::new())
    }
}
