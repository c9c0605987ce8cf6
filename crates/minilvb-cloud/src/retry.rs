//! Exponential backoff with full jitter: before retry `n` (1-based) wait a
//! uniformly random time in `0..=min(cap, base * 2^(n-1))`, so that clients
//! throttled together do not come back together.

use std::time::Duration;

use rand::Rng;

/// The upper bound of the wait before retry `retry` (1 for the first retry).
pub(crate) fn ceiling(retry: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(cap).min(cap)
}

/// A wait drawn uniformly from `0..=ceiling`.
pub(crate) fn full_jitter(ceiling: Duration, rng: &mut impl Rng) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(200);
    const CAP: Duration = Duration::from_secs(2);

    #[test]
    fn the_ceiling_doubles_from_the_base_up_to_the_cap() {
        let ceilings: Vec<_> = (1..=6).map(|n| ceiling(n, BASE, CAP).as_millis()).collect();
        assert_eq!(ceilings, [200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(ceiling(200, BASE, CAP), CAP);
        assert_eq!(ceiling(0, BASE, CAP), BASE);
    }

    #[test]
    fn jitter_stays_within_the_ceiling_and_spreads_out() {
        let mut rng = rand::rng();
        let waits: Vec<_> = (0..200).map(|_| full_jitter(BASE, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w <= BASE));
        assert!(waits.iter().any(|w| *w < BASE / 2) && waits.iter().any(|w| *w > BASE / 2));
        assert_eq!(full_jitter(Duration::ZERO, &mut rng), Duration::ZERO);
    }
}
