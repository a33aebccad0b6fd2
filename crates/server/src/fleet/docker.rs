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

    /// A Unix socket in a temporary folder answering each connection with `answer`
    /// once it has read the request's head, as the engine does.
    fn engine(
        answers: Vec<&'static str>,
    ) -> (
        tempfile::TempDir,
        DockerCollector,
        std::thread::JoinHandle<()>,
    ) {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("docker.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let served = std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                assert!(head.starts_with(b"GET /containers/json?all=1 HTTP/1.0\r\n"));
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        (dir, DockerCollector { socket }, served)
    }

    #[test]
    fn the_engine_is_asked_on_its_socket_and_its_refusals_are_errors() {
        let (_dir, docker, served) = engine(vec![
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n\
             [{\"Id\": \"aaaaaaaaaaaaaaaa\", \"Names\": [\"/db\"], \"Image\": \"postgres\", \
             \"State\": \"running\", \"Status\": \"Up 1 hour\"}]\n",
            "HTTP/1.0 500 Internal Server Error\r\n\r\n{\"message\": \"boom\"}",
            "HTTP/1.0 200 OK\r\n\r\nnot json",
            "HTTP/1.0 200 OK\r\n",
        ]);
        let listed = docker.collect().expect("the list");
        assert_eq!(listed["available"], true);
        assert_eq!(
            (listed["total"].as_u64(), listed["running"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(listed["containers"][0]["name"], "db");
        assert_eq!(
            docker.collect(),
            Err("the Docker engine answered HTTP/1.0 500 Internal Server Error".into())
        );
        let not_json = docker.collect().expect_err("not JSON");
        assert!(
            not_json.starts_with("the Docker engine's answer is not JSON: "),
            "{not_json}"
        );
        assert_eq!(
            docker.collect(),
            Err("the Docker engine's answer has no body".into())
        );
        // The socket is there, nobody listens any more.
        served.join().expect("the engine's answers");
        let gone = docker.collect().expect_err("nobody listens");
        assert!(gone.starts_with("cannot connect to "), "{gone}");
        assert_eq!(docker.name(), "docker");
        assert_eq!(
            DockerCollector::default().socket,
            std::path::PathBuf::from("/var/run/docker.sock")
        );
    }
}
