//! Fault injection: [`FaultProxy`], a loopback TCP proxy in front of one upstream
//! address (a database, a broker, an HTTP endpoint) whose [`Mode`] changes while
//! connections are open, to refuse, cut, delay or black-hole them.
//!
//! Plain threads over `std::net`: one thread accepts (a non-blocking listener polled
//! every few milliseconds, so it sees the proxy dropped), and each connection has one
//! thread per direction. A cut shuts the sockets down from outside, which wakes the
//! threads blocked on them. Dropping the proxy closes every connection and joins every
//! thread it started.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the accept loop and a delayed chunk look at the proxy's state.
const POLL: Duration = Duration::from_millis(5);
/// How long a connection to the upstream may take before the client is closed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What the proxy does with connections; see [`FaultProxy::set_mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Pass,
    /// Closes each new connection as soon as it is accepted, before it reaches the
    /// upstream; open connections go on ([`FaultProxy::cut_open`] closes them too).
    Refuse,
    /// Closes every open connection at once, mid-stream, and each new one as soon as it
    /// is accepted, until the mode changes.
    Cut,
    /// Forwards both ways, holding each chunk read for this long before writing it on.
    Delay(Duration),
    /// Accepts and reads, never forwards nor answers: a new connection never reaches the
    /// upstream (and stays so when the mode changes); on an open one, what is read in
    /// either direction meanwhile is dropped.
    BlackHole,
}

/// What the threads share, behind one lock.
struct State {
    mode: Mode,
    /// Bumped by every cut: a connection accepted in an older epoch is closed.
    epoch: u64,
    /// Clones of the sockets of each open connection, by connection id, so that a cut
    /// can shut them down from another thread.
    open: HashMap<u64, Vec<TcpStream>>,
    next_id: u64,
}

struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
    stop: AtomicBool,
    accepted: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> (Mode, u64) {
        let state = self.lock();
        (state.mode, state.epoch)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Records the sockets of a connection accepted in `epoch`, unless a cut (or the
    /// drop) came since; the connection's id.
    fn register(&self, epoch: u64, streams: &[&TcpStream]) -> Option<u64> {
        let mut state = self.lock();
        if state.epoch != epoch || self.stopped() {
            return None;
        }
        let clones = streams
            .iter()
            .map(|s| s.try_clone())
            .collect::<io::Result<Vec<TcpStream>>>()
            .ok()?;
        let id = state.next_id;
        state.next_id += 1;
        state.open.insert(id, clones);
        Some(id)
    }

    fn unregister(&self, id: u64) {
        self.lock().open.remove(&id);
    }

    /// Waits `d`, unless a cut or the drop comes first (then false).
    fn hold(&self, d: Duration, epoch: u64) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.stopped() || self.lock().epoch != epoch {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(POLL));
        }
    }
}

/// Shuts down every open connection and starts a new epoch; how many were open.
fn cut_all(state: &mut State) -> usize {
    state.epoch += 1;
    let open = state.open.len();
    for (_, streams) in state.open.drain() {
        for s in streams {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
    open
}

/// A running proxy on `127.0.0.1`; its connections are closed and its threads stopped
/// when it is dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts on an ephemeral loopback port, forwarding to `upstream`, in
    /// [`Mode::Pass`].
    pub fn start(upstream: impl ToSocketAddrs) -> io::Result<Self> {
        Self::start_on(TcpListener::bind("127.0.0.1:0")?, upstream)
    }

    /// Starts on a listener bound already: for an upstream that must know the proxy's
    /// address before it starts (a Kafka broker advertising it, for one).
    pub fn start_on(listener: TcpListener, upstream: impl ToSocketAddrs) -> io::Result<Self> {
        let addrs: Vec<SocketAddr> = upstream.to_socket_addrs()?.collect();
        let upstream = match addrs.iter().find(|a| a.is_ipv4()) {
            Some(a) => *a,
            None => *addrs.first().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no upstream address")
            })?,
        };
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State {
                mode: Mode::Pass,
                epoch: 0,
                open: HashMap::new(),
                next_id: 0,
            }),
            stop: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
        });
        let accept = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("fault-proxy-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared))?
        };
        Ok(FaultProxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// Starts in front of the server `url` names
    /// (`scheme://[user[:password]@]host[:port][/...]`, on `default_port` when it names
    /// none) and returns the proxy with `url` pointed at it instead: the same URL with
    /// the proxy's `127.0.0.1:<port>` as its host and port.
    pub fn in_front_of(url: &str, default_port: u16) -> io::Result<(Self, String)> {
        let host = host_range(url)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host in the URL"))?;
        let upstream = with_port(&url[host.clone()], default_port);
        let proxy = Self::start(upstream.as_str())?;
        let proxied = format!("{}{}{}", &url[..host.start], proxy.addr, &url[host.end..]);
        Ok((proxy, proxied))
    }

    /// Where it listens, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where it forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.shared.current().0
    }

    /// Changes the mode for new connections and for the next chunk of open ones. When
    /// it returns after [`Mode::Cut`], every connection that was open is shut down.
    pub fn set_mode(&self, mode: Mode) {
        let mut state = self.shared.lock();
        state.mode = mode;
        if mode == Mode::Cut {
            cut_all(&mut state);
        }
    }

    /// Shuts down every open connection now, whatever the mode (with [`Mode::Refuse`]:
    /// refuse new connections and cut the open ones); how many were open.
    pub fn cut_open(&self) -> usize {
        cut_all(&mut self.shared.lock())
    }

    /// Connections open through the proxy (forwarding, or black-holed), once each has
    /// reached its upstream.
    pub fn open_connections(&self) -> usize {
        self.shared.lock().open.len()
    }

    /// Connections accepted so far, refused ones included.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        cut_all(&mut self.shared.lock());
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// The byte range of `host[:port]` in `scheme://[userinfo@]host[:port][/path][?query]`.
fn host_range(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let host = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    (host < end).then_some(host..end)
}

/// `host` with `:default_port` appended when it has no port.
fn with_port(host: &str, default_port: u16) -> String {
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(name, port)| !name.is_empty() && port.parse::<u16>().is_ok());
    if has_port {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopped() {
        match listener.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let (mode, epoch) = shared.current();
                if matches!(mode, Mode::Refuse | Mode::Cut) {
                    drop(client);
                    continue;
                }
                let conn_shared = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name("fault-proxy-conn".into())
                    .spawn(move || connection(client, mode, epoch, &conn_shared));
                if let Ok(handle) = spawned {
                    connections.push(handle);
                }
                connections.retain(|h| !h.is_finished());
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
    drop(listener);
    for handle in connections {
        let _ = handle.join();
    }
}

/// One accepted connection, to its end.
fn connection(client: TcpStream, mode: Mode, epoch: u64, shared: &Shared) {
    // Some platforms hand out accepted sockets non-blocking like their listener.
    let _ = client.set_nonblocking(false);
    let _ = client.set_nodelay(true);
    if mode == Mode::BlackHole {
        let Some(id) = shared.register(epoch, &[&client]) else {
            return;
        };
        swallow(&client);
        shared.unregister(id);
        return;
    }
    let Ok(upstream) = TcpStream::connect_timeout(&shared.upstream, CONNECT_TIMEOUT) else {
        return; // the client is closed, as if the upstream had refused it
    };
    let _ = upstream.set_nodelay(true);
    let Some(id) = shared.register(epoch, &[&client, &upstream]) else {
        return;
    };
    std::thread::scope(|s| {
        let back = std::thread::Builder::new()
            .name("fault-proxy-back".into())
            .spawn_scoped(s, || pump(&upstream, &client, epoch, shared));
        if back.is_ok() {
            pump(&client, &upstream, epoch, shared);
        }
    });
    shared.unregister(id);
}

/// Copies what `from` sends to `to`, chunk by chunk as the mode says at each chunk,
/// until `from` ends (passed on as a half close), either side fails, or a cut.
fn pump(from: &TcpStream, to: &TcpStream, epoch: u64, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut reader, mut writer) = (from, to);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let (mode, now) = shared.current();
        if now != epoch || shared.stopped() {
            break;
        }
        match mode {
            Mode::BlackHole => continue,
            Mode::Delay(d) => {
                if !shared.hold(d, epoch) {
                    break;
                }
            }
            Mode::Pass | Mode::Refuse | Mode::Cut => {}
        }
        if writer.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Reads and drops everything `client` sends until it closes or is cut.
fn swallow(client: &TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut reader = client;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// An upstream that sends back what it reads, counting its connections.
    struct Echo {
        addr: SocketAddr,
        stop: Arc<AtomicBool>,
        accepted: Arc<AtomicU64>,
        thread: Option<JoinHandle<()>>,
    }

    impl Echo {
        fn start() -> Echo {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.set_nonblocking(true).expect("non-blocking");
            let addr = listener.local_addr().expect("address");
            let stop = Arc::new(AtomicBool::new(false));
            let accepted = Arc::new(AtomicU64::new(0));
            let thread = {
                let (stop, accepted) = (stop.clone(), accepted.clone());
                std::thread::spawn(move || {
                    let mut conns = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((s, _)) => {
                                accepted.fetch_add(1, Ordering::SeqCst);
                                let stop = stop.clone();
                                conns.push(std::thread::spawn(move || echo(s, &stop)));
                            }
                            Err(_) => std::thread::sleep(POLL),
                        }
                    }
                    for c in conns {
                        let _ = c.join();
                    }
                })
            };
            Echo {
                addr,
                stop,
                accepted,
                thread: Some(thread),
            }
        }

        fn accepted(&self) -> u64 {
            self.accepted.load(Ordering::SeqCst)
        }
    }

    impl Drop for Echo {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn echo(mut s: TcpStream, stop: &AtomicBool) {
        let _ = s.set_nonblocking(false);
        let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [0u8; 8192];
        while !stop.load(Ordering::SeqCst) {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if timed_out(&e) => {}
                Err(_) => break,
            }
        }
    }

    fn timed_out(e: &io::Error) -> bool {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    }

    fn connect(proxy: &FaultProxy) -> TcpStream {
        let s = TcpStream::connect(proxy.addr()).expect("connect to the proxy");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        s
    }

    fn round_trip(s: &mut TcpStream, data: &[u8]) -> io::Result<Vec<u8>> {
        s.write_all(data)?;
        let mut got = vec![0; data.len()];
        s.read_exact(&mut got)?;
        Ok(got)
    }

    /// Whether the proxy closed `s`: a read ends (end of stream or reset) instead of
    /// waiting for its timeout.
    fn closed(s: &mut TcpStream) -> bool {
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !timed_out(&e),
        }
    }

    #[test]
    fn pass_forwards_both_ways() {
        let echo = Echo::start();
        let proxy = FaultProxy::start(echo.addr).expect("proxy");
        assert_eq!(proxy.mode(), Mode::Pass);
        assert_eq!(proxy.upstream(), echo.addr);
        let mut s = connect(&proxy);
        // More than the sockets buffer, written while it is read back.
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut writer = s.try_clone().expect("clone");
        let sent = data.clone();
        let w = std::thread::spawn(move || writer.write_all(&sent).is_ok());
        let mut got = vec![0; data.len()];
        s.read_exact(&mut got).expect("echoed back");
        assert!(w.join().expect("writer"));
        assert!(got == data, "the bytes come back as they were sent");
        assert_eq!(proxy.open_connections(), 1);
        assert_eq!((proxy.accepted(), echo.accepted()), (1, 1));
    }

    #[test]
    fn refuse_closes_new_connections_and_keeps_open_ones() {
        let echo = Echo::start();
        let proxy = FaultProxy::start(echo.addr).expect("proxy");
        let mut open = connect(&proxy);
        assert_eq!(round_trip(&mut open, b"before").expect("echo"), b"before");
        proxy.set_mode(Mode::Refuse);
        let mut refused = connect(&proxy);
        assert!(closed(&mut refused), "a new connection is closed at once");
        assert_eq!(
            round_trip(&mut open, b"still open").expect("the open connection"),
            b"still open"
        );
        assert_eq!(
            echo.accepted(),
            1,
            "a refused connection never reaches the upstream"
        );
        // Refusing new connections and cutting the open ones.
        assert_eq!(proxy.cut_open(), 1);
        assert!(closed(&mut open));
        proxy.set_mode(Mode::Pass);
        let mut again = connect(&proxy);
        assert_eq!(round_trip(&mut again, b"back").expect("echo"), b"back");
    }

    #[test]
    fn cut_closes_open_connections_mid_stream_and_new_ones_until_set_back() {
        let echo = Echo::start();
        let proxy = FaultProxy::start(echo.addr).expect("proxy");
        let mut s = connect(&proxy);
        assert_eq!(round_trip(&mut s, b"hello").expect("echo"), b"hello");
        // A stream in flight: written until the cut breaks it, read until it ends.
        let mut writer = s.try_clone().expect("clone");
        let w = std::thread::spawn(move || {
            let chunk = vec![7u8; 64 * 1024];
            let mut written = 0usize;
            while writer.write_all(&chunk).is_ok() {
                written += chunk.len();
            }
            written
        });
        let mut buf = vec![0u8; 64 * 1024];
        let mut read = 0;
        while read < 256 * 1024 {
            read += s.read(&mut buf).expect("the stream flows");
        }
        proxy.set_mode(Mode::Cut);
        assert_eq!(proxy.open_connections(), 0);
        let ended = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => read += n,
                Err(e) => break !timed_out(&e),
            }
        };
        assert!(ended, "the open connection is cut");
        // The writer's side breaks too: its loop ends.
        let written = w.join().expect("writer");
        assert!(written > 0 && read > 0);
        let mut new = connect(&proxy);
        assert!(closed(&mut new), "a new connection is closed at once");
        assert_eq!(echo.accepted(), 1);
        proxy.set_mode(Mode::Pass);
        let mut again = connect(&proxy);
        assert_eq!(round_trip(&mut again, b"back").expect("echo"), b"back");
    }

    #[test]
    fn delay_holds_each_chunk_both_ways() {
        let echo = Echo::start();
        let proxy = FaultProxy::start(echo.addr).expect("proxy");
        proxy.set_mode(Mode::Delay(Duration::from_millis(300)));
        let mut s = connect(&proxy);
        let started = Instant::now();
        assert_eq!(round_trip(&mut s, b"slow").expect("echo"), b"slow");
        // Held on the way there and on the way back: a lower bound, not a speed.
        assert!(started.elapsed() >= Duration::from_millis(600));
        proxy.set_mode(Mode::Pass);
        assert_eq!(round_trip(&mut s, b"fast").expect("echo"), b"fast");
    }

    #[test]
    fn black_hole_reads_and_never_answers() {
        let echo = Echo::start();
        let proxy = FaultProxy::start(echo.addr).expect("proxy");
        proxy.set_mode(Mode::BlackHole);
        let mut s = connect(&proxy);
        // More than the sockets buffer: this only ends if the proxy reads.
        let mut writer = s.try_clone().expect("clone");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(writer.write_all(&vec![1u8; 16 * 1024 * 1024]).is_ok());
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(true));
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("read timeout");
        let mut b = [0u8; 1];
        let answer = s.read(&mut b);
        assert!(
            matches!(&answer, Err(e) if timed_out(e)),
            "no answer, no close: {answer:?}"
        );
        assert_eq!(echo.accepted(), 0, "nothing reaches the upstream");
        assert_eq!(proxy.open_connections(), 1);

        // An open connection going into the black hole: nothing comes back.
        proxy.set_mode(Mode::Pass);
        let mut open = connect(&proxy);
        assert_eq!(round_trip(&mut open, b"before").expect("echo"), b"before");
        proxy.set_mode(Mode::BlackHole);
        open.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("read timeout");
        open.write_all(b"lost").expect("write");
        let answer = open.read(&mut b);
        assert!(matches!(&answer, Err(e) if timed_out(e)), "{answer:?}");
    }

    #[test]
    fn dropping_the_proxy_closes_its_connections_and_stops_listening() {
        let echo = Echo::start();
        let proxy = FaultProxy::start(echo.addr).expect("proxy");
        let mut s = connect(&proxy);
        assert_eq!(round_trip(&mut s, b"hello").expect("echo"), b"hello");
        proxy.set_mode(Mode::BlackHole);
        let mut held = connect(&proxy);
        held.write_all(b"never answered").expect("write");
        let addr = proxy.addr();
        drop(proxy); // returns once every thread of the proxy has ended
        assert!(closed(&mut s));
        assert!(closed(&mut held));
        assert!(
            TcpStream::connect(addr).is_err(),
            "nothing listens any more"
        );
    }

    #[test]
    fn a_url_is_pointed_at_the_proxy() {
        let (proxy, url) =
            FaultProxy::in_front_of("postgres://user:pw@127.0.0.1:5433/db?sslmode=disable", 5432)
                .expect("proxy");
        assert_eq!(
            proxy.upstream(),
            "127.0.0.1:5433".parse::<SocketAddr>().expect("address")
        );
        assert_eq!(
            url,
            format!("postgres://user:pw@{}/db?sslmode=disable", proxy.addr())
        );
        let (proxy, url) =
            FaultProxy::in_front_of("clickhouse://127.0.0.1/faults", 8123).expect("proxy");
        assert_eq!(
            proxy.upstream(),
            "127.0.0.1:8123".parse::<SocketAddr>().expect("address")
        );
        assert_eq!(url, format!("clickhouse://{}/faults", proxy.addr()));
        assert!(FaultProxy::in_front_of("not a url", 1).is_err());
    }
}
