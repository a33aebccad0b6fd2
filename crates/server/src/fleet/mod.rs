//! Fleet telemetry: collectors behind one trait and an orchestrator that runs them in
//! parallel, each within its own timeout, into one snapshot
//! `{snapshot_id, collected_at, duration_ms, results, errors}`. A collector that fails
//! or hangs only adds an entry to `errors`; the others' results are kept.
//!
//! Collectors: [`HostCollector`] (CPU, memory, disks, network of this machine),
//! [`AgentsCollector`] (polls configured health URLs: status, version, uptime, custom
//! metrics), [`DeploymentsCollector`] (version adoption and rollout share per service
//! across the same agents), [`DockerCollector`] (containers from the Docker Engine API
//! on its unix socket; a machine without the socket is reported as such, not as an
//! error) and [`ProbesCollector`] (the probed targets' last states).
//!
//! [`Fleet`] runs the rounds and stores each snapshot as a link of the hash [`chain`],
//! with its [`public_view`] (aggregates anyone may see) as `fleet.*` gauges.
//!
//! | File | Holds |
//! |------|-------|
//! | `collector.rs` | [`Collector`], [`Snapshot`], [`collect`] |
//! | `host.rs`, `agents.rs`, `docker.rs`, `probe_states.rs` | one collector each |
//! | `rounds.rs` | [`Fleet`], [`StoredSnapshot`] |
//! | `public.rs` | [`public_view`], [`gauges`], the public endpoint's rate limit |
//! | `chain.rs` | the hash chain over stored snapshots |

pub mod chain;

mod agents;
mod collector;
mod docker;
mod host;
mod probe_states;
mod public;
mod rounds;

pub use agents::{AgentPoller, AgentTarget, AgentsCollector, DeploymentsCollector, deployments};
pub use collector::{Collector, Snapshot, collect};
pub use docker::{DockerCollector, containers};
pub use host::HostCollector;
pub use probe_states::{ProbeState, ProbesCollector};
pub use public::{GAUGE_PREFIX, gauges, public_view};
pub use rounds::{Fleet, StoredSnapshot};
