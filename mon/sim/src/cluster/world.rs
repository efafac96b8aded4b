//! Where the simulated nodes are and how fast they are: a PlanetLab-like latency model and
//! per-node processing delays.
//!
//! **Latency.** Every node sits at a point on the globe, drawn from regions weighted roughly
//! like PlanetLab's sites (about half in North America, a third in Europe, the rest in East
//! Asia, South America, Oceania and India), and has an access delay (its last mile and its
//! host's load): log-normal with a median of 2 ms, and for one node in twenty a heavy tail of
//! 20–150 ms. The one-way latency between two nodes is
//! `great-circle distance × 1.8 (route inflation) / 200 km/ms + both access delays`, plus a
//! per-packet jitter (exponential, mean 1 ms + 2 % of the base). Round-trip times come out
//! at a few ms inside a region, 80–120 ms across the Atlantic, 150–350 ms to Asia or Oceania,
//! and a few hundred ms at the far end of the tail; [`World::rtt_percentiles`] reports them.
//!
//! **Processing.** Each node serves its packets one at a time (a FIFO server): a normal node
//! takes a log-normal service time with a median of 0.3 ms per packet; a *straggler* (an
//! overloaded host) a median of 50 ms (its own median drawn around 50 ms, each packet's time
//! spread around it), so that a burst of a session's packets keeps it busy for a second. A
//! node more than [`MAX_BACKLOG_US`] behind drops what arrives (a full socket buffer). A local
//! operation (a resource read) takes twice a packet's service time.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The latency model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Latency {
    /// Sites on a PlanetLab-like map (the module docs).
    #[default]
    Planetlab,
    /// Every node on one LAN or loopback: 20–50 µs one way, jitter of 20 µs on average (to
    /// compare with `mon testbed`).
    Lan,
}

impl Latency {
    /// The CLI spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Latency::Planetlab => "planetlab",
            Latency::Lan => "lan",
        }
    }
}

/// One region of the globe sites are drawn from.
struct Region {
    lat: f64,
    lon: f64,
    spread_deg: f64,
    weight: f64,
}

const REGIONS: &[Region] = &[
    // North America: east, central, west.
    Region {
        lat: 40.5,
        lon: -75.0,
        spread_deg: 4.0,
        weight: 0.25,
    },
    Region {
        lat: 41.0,
        lon: -90.0,
        spread_deg: 5.0,
        weight: 0.10,
    },
    Region {
        lat: 37.5,
        lon: -121.0,
        spread_deg: 3.5,
        weight: 0.15,
    },
    // Europe.
    Region {
        lat: 49.0,
        lon: 8.0,
        spread_deg: 6.0,
        weight: 0.30,
    },
    // East Asia.
    Region {
        lat: 33.0,
        lon: 125.0,
        spread_deg: 7.0,
        weight: 0.12,
    },
    // South America.
    Region {
        lat: -23.5,
        lon: -46.6,
        spread_deg: 4.0,
        weight: 0.03,
    },
    // Oceania.
    Region {
        lat: -33.9,
        lon: 151.2,
        spread_deg: 3.0,
        weight: 0.03,
    },
    // India.
    Region {
        lat: 19.0,
        lon: 77.0,
        spread_deg: 5.0,
        weight: 0.02,
    },
];

/// A node this far behind (µs of queued work) drops arriving packets.
pub(crate) const MAX_BACKLOG_US: u64 = 2_000_000;

const EARTH_RADIUS_KM: f64 = 6371.0;
/// Speed of light in fibre, km per ms.
const FIBRE_KM_PER_MS: f64 = 200.0;
/// Routes are longer than great circles.
const ROUTE_INFLATION: f64 = 1.8;

/// A node's place and speed.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    /// Unit vector of its position.
    pos: [f64; 3],
    /// One-way access delay, µs.
    access_us: f64,
    /// Median service time per packet, µs.
    service_us: f64,
    /// Whether it is a straggler.
    pub(crate) straggler: bool,
}

impl Site {
    /// A random site: a place on the map, an access latency and a processing speed (slow
    /// for a `straggler`).
    fn random(latency: Latency, straggler: bool, rng: &mut ChaCha8Rng) -> Site {
        // Every model draws a place (the same random sequence); on a LAN all are in one.
        let pos = map_position(pick_region(rng), rng);
        let (pos, access_ms) = match latency {
            Latency::Planetlab if rng.gen_bool(0.05) => (pos, rng.gen_range(20.0..150.0)),
            Latency::Planetlab => (pos, lognormal(rng, 2.0, 0.8).min(40.0)),
            Latency::Lan => ([1.0, 0.0, 0.0], rng.gen_range(0.01..0.025)),
        };
        let service_ms = if straggler {
            lognormal(rng, 50.0, 0.3)
        } else {
            lognormal(rng, 0.3, 0.4)
        };
        Site {
            pos,
            access_us: access_ms * 1000.0,
            service_us: service_ms * 1000.0,
            straggler,
        }
    }
}

/// A random region, by weight.
fn pick_region(rng: &mut ChaCha8Rng) -> &'static Region {
    let total: f64 = REGIONS.iter().map(|r| r.weight).sum();
    let mut x = rng.gen_range(0.0..total);
    let mut region = &REGIONS[0];
    for r in REGIONS {
        if x < r.weight {
            region = r;
            break;
        }
        x -= r.weight;
    }
    region
}

/// A random place around the centre of `region`, as a unit vector.
fn map_position(region: &Region, rng: &mut ChaCha8Rng) -> [f64; 3] {
    let lat = (region.lat + region.spread_deg * normal(rng)).clamp(-89.0, 89.0);
    let lon = region.lon + region.spread_deg * normal(rng);
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

/// Standard normal sample (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal sample with the given median and σ of the logarithm.
fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Exponential sample with the given mean.
fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    -mean * u.ln()
}

/// The simulated world: every node's site.
#[derive(Clone, Debug)]
pub(crate) struct World {
    sites: Vec<Site>,
    /// Mean of the fixed part of the per-packet jitter, µs.
    jitter_us: f64,
}

impl World {
    /// `n` sites, `stragglers` of them (by index) slow.
    pub(crate) fn new(
        n: usize,
        stragglers: &[bool],
        latency: Latency,
        rng: &mut ChaCha8Rng,
    ) -> World {
        let sites = (0..n)
            .map(|i| {
                let straggler = stragglers.get(i).copied().unwrap_or(false);
                Site::random(latency, straggler, rng)
            })
            .collect();
        let jitter_us = match latency {
            Latency::Planetlab => 1000.0,
            Latency::Lan => 20.0,
        };
        World { sites, jitter_us }
    }

    /// Base one-way latency from `a` to `b` (no jitter), µs.
    pub(crate) fn base_us(&self, a: usize, b: usize) -> f64 {
        let (Some(p), Some(q)) = (self.sites.get(a), self.sites.get(b)) else {
            return 1000.0;
        };
        let dot: f64 = p.pos.iter().zip(&q.pos).map(|(x, y)| x * y).sum();
        let km = dot.clamp(-1.0, 1.0).acos() * EARTH_RADIUS_KM;
        km * ROUTE_INFLATION / FIBRE_KM_PER_MS * 1000.0 + p.access_us + q.access_us
    }

    /// One-way latency of one packet from `a` to `b`, with jitter, µs.
    pub(crate) fn packet_us(&self, a: usize, b: usize, rng: &mut ChaCha8Rng) -> u64 {
        let base = self.base_us(a, b);
        (base + exponential(rng, self.jitter_us + 0.02 * base)).max(10.0) as u64
    }

    /// Service time of one packet at node `i`, µs.
    pub(crate) fn service_us(&self, i: usize, rng: &mut ChaCha8Rng) -> u64 {
        let Some(s) = self.sites.get(i) else {
            return 0;
        };
        let sigma = if s.straggler { 0.5 } else { 0.3 };
        lognormal(rng, s.service_us, sigma).clamp(20.0, 5_000_000.0) as u64
    }

    /// One-way latency between a client and its nearby entry node `entry`, µs.
    pub(crate) fn client_us(&self, entry: usize, rng: &mut ChaCha8Rng) -> u64 {
        let access = self.sites.get(entry).map_or(1000.0, |s| s.access_us);
        (self.jitter_us / 2.0 + access + exponential(rng, self.jitter_us / 5.0)) as u64
    }

    /// Round trip between a client and its nearby entry node `entry`, without jitter, µs.
    pub(crate) fn client_rtt_us(&self, entry: usize) -> u64 {
        let access = self.sites.get(entry).map_or(1000.0, |s| s.access_us);
        (2.0 * (self.jitter_us / 2.0 + access)) as u64
    }

    /// Percentiles (p50, p90, p99, max) of the base round-trip time over `samples` random
    /// pairs, ms.
    pub(crate) fn rtt_percentiles(&self, samples: usize, rng: &mut ChaCha8Rng) -> [f64; 4] {
        let n = self.sites.len();
        if n < 2 {
            return [0.0; 4];
        }
        let mut v: Vec<f64> = (0..samples)
            .map(|_| {
                let a = rng.gen_range(0..n);
                let mut b = rng.gen_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                2.0 * self.base_us(a, b) / 1000.0
            })
            .collect();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        [at(0.5), at(0.9), at(0.99), at(1.0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rtts_resemble_planetlab() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let w = World::new(400, &[], Latency::Planetlab, &mut rng);
        let [p50, p90, p99, max] = w.rtt_percentiles(20_000, &mut rng);
        assert!((40.0..200.0).contains(&p50), "median RTT {p50}");
        assert!((150.0..400.0).contains(&p90), "p90 RTT {p90}");
        assert!(p99 > p90 && max >= p99, "{p99} {max}");
        assert!(max > 300.0, "a heavy tail: max RTT {max}");
    }

    #[test]
    fn lan_is_fast() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let w = World::new(50, &[], Latency::Lan, &mut rng);
        let [p50, _, _, max] = w.rtt_percentiles(1000, &mut rng);
        assert!(p50 < 0.1 && max < 0.1, "{p50} {max}");
    }

    #[test]
    fn stragglers_are_slow() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let w = World::new(2, &[false, true], Latency::Planetlab, &mut rng);
        let fast: u64 = (0..100).map(|_| w.service_us(0, &mut rng)).sum();
        let slow: u64 = (0..100).map(|_| w.service_us(1, &mut rng)).sum();
        assert!(slow > 50 * fast, "{slow} vs {fast}");
    }
}
