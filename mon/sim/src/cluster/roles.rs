//! Which nodes of a run die before the first session and which are slow ([`Roles`]), drawn
//! from the run's roles stream, and the entry nodes a client may use.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::SimConfig;

/// Picks `count` distinct indices of `0..n` where `allowed` holds.
fn pick(
    rng: &mut ChaCha8Rng,
    n: usize,
    count: usize,
    allowed: impl Fn(usize) -> bool,
) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..n).filter(|&i| allowed(i)).collect();
    idx.shuffle(rng);
    let mut out = vec![false; n];
    for &i in idx.iter().take(count) {
        out[i] = true;
    }
    out
}

/// Which nodes die before the first session and which are slow.
pub(super) struct Roles {
    pub(super) dead: Vec<bool>,
    pub(super) slow: Vec<bool>,
    pub(super) live: Vec<bool>,
    pub(super) n_dead: usize,
    pub(super) n_slow: usize,
}

impl Roles {
    pub(super) fn assign(cfg: &SimConfig, rng: &mut ChaCha8Rng) -> Roles {
        let n = cfg.nodes;
        let n_dead = (cfg.dead * n as f64).round() as usize;
        let n_slow = (cfg.stragglers * n as f64).round() as usize;
        let dead = pick(rng, n, n_dead, |_| true);
        let slow = pick(rng, n, n_slow, |i| !dead[i]);
        let live = dead.iter().map(|d| !d).collect();
        Roles {
            dead,
            slow,
            live,
            n_dead,
            n_slow,
        }
    }

    pub(super) fn live_count(&self) -> usize {
        self.live.len() - self.n_dead
    }

    /// The nodes a client may enter through: live and, when there are any, not slow (the
    /// paper's "nearby MON server").
    pub(super) fn entries(&self) -> Vec<usize> {
        let live_idx: Vec<usize> = (0..self.live.len()).filter(|&i| self.live[i]).collect();
        let fast: Vec<usize> = live_idx
            .iter()
            .copied()
            .filter(|&i| !self.slow[i])
            .collect();
        if fast.is_empty() {
            live_idx
        } else {
            fast
        }
    }
}
