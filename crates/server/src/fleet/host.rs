//! [`HostCollector`]: CPU, memory, disks and network of this machine.

use super::collector::Collector;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// CPU, memory, disks and network interfaces of this machine.
#[derive(Debug, Default)]
pub struct HostCollector;

impl Collector for HostCollector {
    fn name(&self) -> &str {
        "host"
    }

    fn collect(&self) -> Result<Value, String> {
        use sysinfo::{Disks, Networks, System};
        let mut sys = System::new();
        sys.refresh_cpu_usage();
        // CPU usage is a difference between two readings.
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(Duration::from_millis(200)));
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        let load = System::load_average();
        let disks: Vec<Value> = Disks::new_with_refreshed_list()
            .iter()
            .map(|d| {
                json!({
                    "mount_point": d.mount_point().display().to_string(),
                    "total_bytes": d.total_space(),
                    "available_bytes": d.available_space(),
                })
            })
            .collect();
        let networks: BTreeMap<String, Value> = Networks::new_with_refreshed_list()
            .iter()
            .map(|(name, n)| {
                (
                    name.clone(),
                    json!({
                        "received_bytes": n.total_received(),
                        "transmitted_bytes": n.total_transmitted(),
                    }),
                )
            })
            .collect();
        Ok(json!({
            "hostname": System::host_name(),
            "os": System::long_os_version(),
            "uptime_seconds": System::uptime(),
            "cpu": {
                "count": sys.cpus().len(),
                "usage_percent": sys.global_cpu_usage(),
                "load_1m": load.one,
                "load_5m": load.five,
                "load_15m": load.fifteen,
            },
            "memory": {
                "total_bytes": sys.total_memory(),
                "used_bytes": sys.used_memory(),
                "available_bytes": sys.available_memory(),
            },
            "disks": disks,
            "network": networks,
        }))
    }
}
