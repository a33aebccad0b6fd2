//! [`DockerCollector`]: containers from the Docker Engine API on its unix socket (a
//! machine without the socket is reported as such, not as an error).

use super::collector::Collector;
use serde_json::{Value, json};

/// Containers from the Docker Engine API on its unix socket.
#[derive(Clone, Debug)]
pub struct DockerCollector {
    /// Usually `/var/run/docker.sock`.
    pub socket: std::path::PathBuf,
}

impl Default for DockerCollector {
    fn default() -> Self {
        DockerCollector {
            socket: "/var/run/docker.sock".into(),
        }
    }
}

/// Containers of a `GET /containers/json?all=1` answer, summarised.
pub fn containers(list: &Value) -> Value {
    let items: Vec<Value> = list
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    json!({
                        "id": c["Id"].as_str().map(|id| id.chars().take(12).collect::<String>()),
                        "name": c["Names"][0].as_str().map(|n| n.trim_start_matches('/')),
                        "image": c["Image"],
                        "state": c["State"],
                        "status": c["Status"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let running = items.iter().filter(|c| c["state"] == "running").count();
    json!({
        "available": true,
        "total": items.len(),
        "running": running,
        "containers": items,
    })
}

impl Collector for DockerCollector {
    fn name(&self) -> &str {
        "docker"
    }

    fn collect(&self) -> Result<Value, String> {
        use std::io::{Read, Write};
        if !self.socket.exists() {
            return Ok(json!({
                "available": false,
                "reason": format!("no Docker socket at {}", self.socket.display()),
            }));
        }
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket)
            .map_err(|e| format!("cannot connect to {}: {e}", self.socket.display()))?;
        stream
            .set_read_timeout(Some(self.timeout()))
            .map_err(|e| e.to_string())?;
        // HTTP/1.0: the engine closes the connection after its answer.
        stream
            .write_all(b"GET /containers/json?all=1 HTTP/1.0\r\nHost: docker\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .take(16 << 20)
            .read_to_end(&mut answer)
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or("the Docker engine's answer has no body")?;
        let ok = head.starts_with("HTTP/1.") && head.split(' ').nth(1) == Some("200");
        if !ok {
            return Err(format!(
                "the Docker engine answered {}",
                head.lines().next().unwrap_or("")
            ));
        }
        let list: Value = serde_json::from_str(body.trim())
            .map_err(|e| format!("the Docker engine's answer is not JSON: {e}"))?;
        Ok(containers(&list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_containers_are_summarised_and_a_missing_socket_is_not_an_error() {
        let list = json!([
            {"Id": "0123456789abcdef", "Names": ["/web"], "Image": "nginx", "State": "running", "Status": "Up 2 hours"},
            {"Id": "fedcba9876543210", "Names": ["/job"], "Image": "busybox", "State": "exited", "Status": "Exited (0)"}
        ]);
        let c = containers(&list);
        assert_eq!(
            (c["total"].as_u64(), c["running"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(c["containers"][0]["id"], "0123456789ab");
        assert_eq!(c["containers"][0]["name"], "web");
        let absent = DockerCollector {
            socket: "/nonexistent/docker.sock".into(),
        }
        .collect()
        .expect("absent is a result");
        assert_eq!(absent["available"], false);
    }
}
