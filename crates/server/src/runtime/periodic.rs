//! One way to run a background job on an interval: each run on a blocking thread (jobs
//! talk to the store and the network synchronously), the next tick only after it
//! finished (missed ticks are delayed, never bunched), and every failure logged and
//! counted by job on `/metrics` (`automagik_telemetry_background_job_failures_total`).

use crate::server_metrics::ServerMetrics;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A job that runs on an interval.
pub trait Job: Send + 'static {
    /// Its name in logs and on `/metrics`.
    fn name(&self) -> &'static str;
    /// One run, on a blocking thread. An error is logged and counted; the job runs
    /// again at the next tick either way.
    fn run(&mut self) -> Result<(), String>;
}

/// Runs `job` every `every`, the first run at once, until the runtime stops.
pub async fn run_every(every: Duration, job: impl Job, metrics: Arc<ServerMetrics>) {
    let name = job.name();
    // Held across runs; a run that panicked leaves it usable for the next one.
    let job = Arc::new(Mutex::new(job));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let job = job.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            job.lock().unwrap_or_else(|e| e.into_inner()).run()
        })
        .await;
        let error = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(e) => format!("the job stopped: {e}"),
        };
        metrics.job_failed(name);
        tracing::warn!(job = name, error = %error, "a background job failed; it runs again at its next interval");
    }
}
