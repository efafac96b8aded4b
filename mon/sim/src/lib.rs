//! MON simulators: deterministic, virtual-time runs of mon-proto's real state machines, driven
//! from outside the protocol crate exactly as the tokio driver in `mon` drives them (feed
//! packets and timers in, drain output).
//!
//! - [`cluster`]: a whole deployment — N servers' [`mon_proto::node::Node`]s and a real
//!   [`mon_proto::client::ClientSession`] on a PlanetLab-like map (`mon sim`, Table 1), or
//!   one push end to end through [`mon_proto::client::PushSource`] ([`cluster::run_push`]).
//! - [`push`]: a whole push DAG driving the real `Download`/`ServeQueue`, against the
//!   Kumar–Ross bound.
//! - [`membership`]: the membership state machines alone, for convergence and coverage.

pub mod cluster;
pub mod membership;
pub mod push;
