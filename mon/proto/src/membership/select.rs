//! Choosing overlay children from membership: random view members for random trees, and
//! nearby members (local list, left/right by node id) for the second stage of two-stage trees.

use rand::seq::SliceRandom;
use rand::Rng;

use super::local::Near;
use super::view::Slot;
use super::{MemberId, Membership};

impl Membership {
    /// Up to `k` distinct random live view members not matching `exclude` (children of a
    /// random tree).
    pub fn sample(&mut self, k: usize, exclude: &dyn Fn(&MemberId) -> bool) -> Vec<MemberId> {
        let now = self.last_now_ms;
        let dead_after = self.config.dead_after_ms;
        self.view
            .sample(&mut self.rng, k, |s| {
                now.saturating_sub(s.heard_ms) <= dead_after && !exclude(&s.id)
            })
            .into_iter()
            .map(|s| s.id.clone())
            .collect()
    }

    /// Up to `k` nearby members for the second stage of a two-stage tree: equal numbers from
    /// the left (smaller node id) and right (larger) halves of the local list, nearest by RTT
    /// first (an odd one goes to a random side); a side short of local neighbours is topped
    /// up with view members of that side (lowest known RTT first), then with any view member.
    pub fn local_neighbours(
        &mut self,
        k: usize,
        exclude: &dyn Fn(&MemberId) -> bool,
    ) -> Vec<MemberId> {
        let now = self.last_now_ms;
        let (want_left, want_right) = self.split_sides(k);
        let mut out: Vec<MemberId> = Vec::with_capacity(k);
        for (near, want, left) in [
            (self.local.left().to_vec(), want_left, true),
            (self.local.right().to_vec(), want_right, false),
        ] {
            let target = out.len() + want;
            self.take_near(&near, target, exclude, &mut out, now);
            if out.len() < target {
                self.take_by_rtt(self.view_side(left), target, exclude, &mut out, now);
            }
        }
        if out.len() < k {
            let rest: Vec<Slot> = self.view.slots().to_vec();
            self.take_by_rtt(rest, k, exclude, &mut out, now);
        }
        out
    }

    /// `k` split into (left, right) halves, an odd one going to a random side.
    fn split_sides(&mut self, k: usize) -> (usize, usize) {
        let half = k / 2;
        if k % 2 == 0 {
            (half, half)
        } else if self.rng.gen_bool(0.5) {
            (half + 1, half)
        } else {
            (half, half + 1)
        }
    }

    /// The view members on one side of our node id: smaller ids if `left`, else larger.
    fn view_side(&self, left: bool) -> Vec<Slot> {
        let me = self.node_id;
        self.view
            .slots()
            .iter()
            .filter(|s| if left { s.node_id < me } else { s.node_id > me })
            .cloned()
            .collect()
    }

    fn take_near(
        &self,
        near: &[Near],
        target: usize,
        exclude: &dyn Fn(&MemberId) -> bool,
        out: &mut Vec<MemberId>,
        now: u64,
    ) {
        for n in near {
            if out.len() >= target {
                return;
            }
            if self.alive_at(n.heard_ms, now) && !exclude(&n.id) && !out.contains(&n.id) {
                out.push(n.id.clone());
            }
        }
    }

    /// Appends live slots (known RTT ascending, then unknown in random order) up to `target`.
    fn take_by_rtt(
        &mut self,
        mut slots: Vec<Slot>,
        target: usize,
        exclude: &dyn Fn(&MemberId) -> bool,
        out: &mut Vec<MemberId>,
        now: u64,
    ) {
        slots.retain(|s| self.alive_at(s.heard_ms, now) && !exclude(&s.id) && !out.contains(&s.id));
        slots.shuffle(&mut self.rng);
        slots.sort_by(|a, b| match (a.rtt_ms, b.rtt_ms) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        for s in slots {
            if out.len() >= target {
                return;
            }
            out.push(s.id);
        }
    }
}
