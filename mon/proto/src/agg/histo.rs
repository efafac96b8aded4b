//! The mergeable histogram of `histo RES`: exact value counts up to [`HISTO_EXACT_CAP`] distinct
//! values, then logarithmic bins of ±1% (see the module docs of [`super`]).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::answer::Bucket;
use super::HISTO_EXACT_CAP;

/// Bin growth factor: a bin `(γ^(i-1), γ^i]` has centre `2γ^i/(γ+1)`, within 1% of every value in
/// it.
const GAMMA: f64 = 1.01 / 0.99;
/// Smallest magnitude with its own bin; closer to zero goes to the zero bin.
const MIN_MAG: f64 = 1e-9;
/// Largest magnitude with its own bin; larger magnitudes go to the last bin.
const MAX_MAG: f64 = 1e18;

fn ln_gamma() -> f64 {
    GAMMA.ln()
}

fn raw_index(mag: f64) -> i32 {
    // mag is within [MIN_MAG, MAX_MAG], so the index is within ±3000.
    (mag.ln() / ln_gamma()).ceil() as i32
}

fn idx_min() -> i32 {
    raw_index(MIN_MAG)
}

fn idx_max() -> i32 {
    raw_index(MAX_MAG)
}

/// Largest absolute bin key.
pub(crate) fn max_key() -> i32 {
    idx_max() - idx_min() + 1
}

/// The bin key of a finite value: 0 for the zero bin, `±(i - idx_min + 1)` otherwise, so keys are
/// ordered like the values.
pub(crate) fn bin_key(v: f64) -> i32 {
    let mag = v.abs();
    if mag < MIN_MAG {
        return 0;
    }
    let k = raw_index(mag.min(MAX_MAG)) - idx_min() + 1;
    if v < 0.0 {
        -k
    } else {
        k
    }
}

/// The centre of a bin.
pub(crate) fn bin_centre(key: i32) -> f64 {
    if key == 0 {
        return 0.0;
    }
    let i = key.abs() - 1 + idx_min();
    let c = 2.0 * (f64::from(i) * ln_gamma()).exp() / (GAMMA + 1.0);
    if key < 0 {
        -c
    } else {
        c
    }
}

/// A histogram store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum HistoStore {
    /// Distinct values ascending, each with its count (> 0).
    Exact { values: Vec<(f64, u64)> },
    /// Exact min and max, counts per bin key ascending.
    Approx {
        min: f64,
        max: f64,
        bins: Vec<(i32, u64)>,
    },
}

/// A histogram's smallest and largest value and its `(value, count)` points.
type Points = (f64, f64, Vec<(f64, u64)>);

/// An exact store received: bounded, finite values with non-zero counts, strictly
/// ascending, no -0.
fn check_exact(values: &[(f64, u64)]) -> Result<(), &'static str> {
    if values.len() > HISTO_EXACT_CAP {
        return Err("exact histogram with too many values");
    }
    if values.iter().any(|&(v, c)| !v.is_finite() || c == 0) {
        return Err("histogram value not finite or count zero");
    }
    if values
        .windows(2)
        .any(|w| w[0].0.total_cmp(&w[1].0) != Ordering::Less)
    {
        return Err("histogram values not strictly ascending");
    }
    if values
        .iter()
        .any(|&(v, _)| v == 0.0 && v.is_sign_negative())
    {
        return Err("histogram value -0");
    }
    Ok(())
}

/// An approximate store received: a valid range, 1..=2·max_key+1 bins with keys in range
/// and non-zero counts, strictly ascending.
fn check_approx(min: f64, max: f64, bins: &[(i32, u64)]) -> Result<(), &'static str> {
    if !min.is_finite() || !max.is_finite() || min > max {
        return Err("histogram min/max invalid");
    }
    let mk = max_key();
    if bins.is_empty() || bins.len() > (2 * mk + 1) as usize {
        return Err("approximate histogram with a bad number of bins");
    }
    if bins.iter().any(|&(k, c)| k.abs() > mk || c == 0) {
        return Err("histogram bin key out of range or count zero");
    }
    if bins.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err("histogram bins not strictly ascending");
    }
    Ok(())
}

/// `b` empty equal-width buckets over `[min, max]` (the last one ends exactly at `max`).
fn equal_width(min: f64, max: f64, b: usize) -> Vec<Bucket> {
    let span = max - min;
    (0..b)
        .map(|i| Bucket {
            lo: min + span * (i as f64) / (b as f64),
            hi: if i + 1 == b {
                max
            } else {
                min + span * ((i + 1) as f64) / (b as f64)
            },
            count: 0,
        })
        .collect()
}

/// The bucket of `out` that value `v` falls in, consistent with the printed bounds
/// despite rounding.
fn bucket_index(out: &[Bucket], v: f64, min: f64, span: f64) -> usize {
    let b = out.len();
    let mut i = (((v - min) / span) * b as f64).floor() as usize;
    i = i.min(b - 1);
    while i > 0 && v < out[i].lo {
        i -= 1;
    }
    while i + 1 < b && v >= out[i + 1].lo {
        i += 1;
    }
    i
}

/// Merges two ascending `(key, count)` lists, adding the counts of equal keys.
fn merge_sorted<K: Copy, F: Fn(&K, &K) -> Ordering>(
    a: Vec<(K, u64)>,
    b: Vec<(K, u64)>,
    cmp: F,
) -> Vec<(K, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut ia = a.into_iter().peekable();
    let mut ib = b.into_iter().peekable();
    loop {
        let next = match (ia.peek(), ib.peek()) {
            (Some(x), Some(y)) => match cmp(&x.0, &y.0) {
                Ordering::Less => ia.next(),
                Ordering::Greater => ib.next(),
                Ordering::Equal => {
                    let (k, c1) = *x;
                    let c2 = y.1;
                    ia.next();
                    ib.next();
                    Some((k, c1.saturating_add(c2)))
                }
            },
            (Some(_), None) => ia.next(),
            (None, Some(_)) => ib.next(),
            (None, None) => break,
        };
        if let Some(e) = next {
            out.push(e);
        }
    }
    out
}

fn to_bins(values: &[(f64, u64)]) -> Vec<(i32, u64)> {
    let mut bins: Vec<(i32, u64)> = Vec::new();
    for &(v, c) in values {
        let k = bin_key(v);
        match bins.last_mut() {
            // Values ascend, so keys do not descend.
            Some(last) if last.0 == k => last.1 = last.1.saturating_add(c),
            _ => bins.push((k, c)),
        }
    }
    bins
}

impl HistoStore {
    /// The empty histogram.
    pub(crate) fn empty() -> Self {
        HistoStore::Exact { values: Vec::new() }
    }

    /// One value (finite, checked by the caller).
    pub(crate) fn one(v: f64) -> Self {
        // Normalise -0.0 to 0.0 so they count as one value.
        let v = if v == 0.0 { 0.0 } else { v };
        HistoStore::Exact {
            values: vec![(v, 1)],
        }
    }

    fn into_approx(self) -> (f64, f64, Vec<(i32, u64)>) {
        match self {
            HistoStore::Approx { min, max, bins } => (min, max, bins),
            HistoStore::Exact { values } => {
                let min = values.first().map_or(0.0, |e| e.0);
                let max = values.last().map_or(0.0, |e| e.0);
                (min, max, to_bins(&values))
            }
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, HistoStore::Exact { values } if values.is_empty())
    }

    /// Merges another store (checked).
    pub(crate) fn merge(&mut self, other: HistoStore) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other;
            return;
        }
        let mine = std::mem::replace(self, HistoStore::empty());
        *self = match (mine, other) {
            (HistoStore::Exact { values: a }, HistoStore::Exact { values: b }) => {
                let values = merge_sorted(a, b, |x: &f64, y: &f64| x.total_cmp(y));
                if values.len() > HISTO_EXACT_CAP {
                    let (min, max, bins) = HistoStore::Exact { values }.into_approx();
                    HistoStore::Approx { min, max, bins }
                } else {
                    HistoStore::Exact { values }
                }
            }
            (a, b) => {
                let (min_a, max_a, bins_a) = a.into_approx();
                let (min_b, max_b, bins_b) = b.into_approx();
                HistoStore::Approx {
                    min: min_a.min(min_b),
                    max: max_a.max(max_b),
                    bins: merge_sorted(bins_a, bins_b, |x: &i32, y: &i32| x.cmp(y)),
                }
            }
        };
    }

    /// Checks a store received from the network.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        match self {
            HistoStore::Exact { values } => check_exact(values),
            HistoStore::Approx { min, max, bins } => check_approx(*min, *max, bins),
        }
    }

    /// Whether the approximate form is in use.
    pub(crate) fn is_approx(&self) -> bool {
        matches!(self, HistoStore::Approx { .. })
    }

    /// `buckets` equal-width buckets over `[min, max]` (a single bucket if all values are equal,
    /// none if there is no value).
    pub(crate) fn buckets(&self, buckets: u32) -> Vec<Bucket> {
        let Some((min, max, points)) = self.points() else {
            return Vec::new();
        };
        let total = points.iter().fold(0u64, |s, p| s.saturating_add(p.1));
        if min == max || buckets <= 1 {
            return vec![Bucket {
                lo: min,
                hi: max,
                count: total,
            }];
        }
        let mut out = equal_width(min, max, buckets as usize);
        for (v, c) in points {
            let i = bucket_index(&out, v, min, max - min);
            out[i].count = out[i].count.saturating_add(c);
        }
        out
    }

    /// The smallest and largest value and the `(value, count)` points (an approximate
    /// bin at its centre, clamped to the range); None when empty.
    fn points(&self) -> Option<Points> {
        match self {
            HistoStore::Exact { values } => match (values.first(), values.last()) {
                (Some(a), Some(b)) => Some((a.0, b.0, values.clone())),
                _ => None,
            },
            HistoStore::Approx { min, max, bins } => Some((
                *min,
                *max,
                bins.iter()
                    .map(|&(k, c)| (bin_centre(k).clamp(*min, *max), c))
                    .collect(),
            )),
        }
    }

    /// Approximate encoded size, bytes.
    pub(crate) fn len_hint(&self) -> usize {
        match self {
            HistoStore::Exact { values } => 8 + values.len() * 14,
            HistoStore::Approx { bins, .. } => 26 + bins.len() * 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_centre_is_within_one_percent() {
        for &v in &[
            1e-9, 3e-7, 0.5, 1.0, 1.5, 20.0, 12345.678, 9.9e17, -0.25, -42.0,
        ] {
            let c = bin_centre(bin_key(v));
            assert!(((c - v) / v).abs() <= 0.01 + 1e-12, "{v} -> {c}");
        }
        assert_eq!(bin_centre(bin_key(1e-12)), 0.0);
        assert!(bin_key(-5.0) < bin_key(-4.0));
        assert!(bin_key(-1e-3) < bin_key(0.0));
        assert!(bin_key(0.0) < bin_key(1e-3));
        assert_eq!(bin_key(1e30), max_key());
        assert_eq!(bin_key(-1e30), -max_key());
    }

    #[test]
    fn key_space_is_bounded() {
        // The documented bound: 3,110 bins per sign plus the zero bin.
        assert_eq!(2 * max_key() + 1, 6221);
    }
}
