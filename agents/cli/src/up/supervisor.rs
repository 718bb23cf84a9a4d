//! The processes runtime's supervisor: it starts each process of the local fleet (NATS, Redis,
//! the simulator, every agent) from a [`Spec`], reaps the ones that die, says so, and starts them
//! again with exponential backoff (0.5 s doubling to 30 s; back to 0.5 s once a process has run
//! 30 s). A server given by URL instead of started is probed, not supervised: the board says
//! when it is unreachable. Each process writes plain text to `<name>.log` in the run's directory
//! (appended across restarts, each start marked) and its pid to `<name>.pid`, so a user can
//! look, or kill one to see the fleet heal.
//!
//! [`Supervisor::poll`] takes the time as an argument and returns what happened as lines; the
//! caller ([`super::supervise`]) calls it every second and shows [`Supervisor::status`].

use std::ffi::OsString;
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// First restart delay.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest restart delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A process that ran this long before it died is restarted after [`FIRST_BACKOFF`] again.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(30);

/// How to tell that a process is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `GET /readyz` on this port answers 200 (the agents).
    Readyz(u16),
    /// Something accepts connections on this port (the simulator, NATS, Redis).
    Port(u16),
}

/// One process to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Its name on the board and of its log file.
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Environment variables set for it (what must not show in its arguments: credentials).
    pub env: Vec<(OsString, OsString)>,
    /// Its readiness.
    pub probe: Probe,
    /// Infrastructure (NATS, Redis) stops after the rest.
    pub infrastructure: bool,
}

impl Spec {
    /// A spec with no arguments yet.
    pub fn new(name: &str, program: impl Into<PathBuf>, probe: Probe) -> Spec {
        Spec { name: name.into(), program: program.into(), args: vec![], env: vec![], probe, infrastructure: false }
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Spec {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Spec {
        self.env.push((key.into(), value.into()));
        self
    }
}

enum State {
    Running { child: Child, since: Instant },
    Down { since: Instant, restart_at: Instant, why: String },
    Stopped,
}

struct Proc {
    spec: Spec,
    state: State,
    restarts: u32,
    backoff: Duration,
}

/// A server given by URL: probed, not supervised.
struct External {
    name: String,
    addr: Option<SocketAddr>,
    down_since: Option<Instant>,
}

/// The fleet's processes.
pub struct Supervisor {
    dir: PathBuf,
    procs: Vec<Proc>,
    external: Vec<External>,
}

/// How a process ended, in words.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => {
            let name = match s {
                1 => " (SIGHUP)",
                2 => " (SIGINT)",
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("killed by signal {s}{name}")
        }
        (None, None) => status.to_string(),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl Supervisor {
    /// A supervisor writing logs and pid files to `dir`.
    pub fn new(dir: &Path) -> Supervisor {
        Supervisor { dir: dir.to_path_buf(), procs: vec![], external: vec![] }
    }

    /// Starts a process and keeps it running.
    pub fn start(&mut self, spec: Spec) -> anyhow::Result<()> {
        let child = self.spawn(&spec, 0).with_context(|| format!("starting {}", spec.name))?;
        self.procs.push(Proc {
            spec,
            state: State::Running { child, since: Instant::now() },
            restarts: 0,
            backoff: FIRST_BACKOFF,
        });
        Ok(())
    }

    /// Watches a server given by URL (`scheme://[user@]host:port[/...]`).
    pub fn watch_external(&mut self, name: &str, url: &str) {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let addr = hostport.to_socket_addrs().ok().and_then(|mut a| a.next());
        self.external.push(External { name: name.into(), addr, down_since: None });
    }

    fn spawn(&self, spec: &Spec, restart: u32) -> anyhow::Result<Child> {
        let mut log = std::fs::OpenOptions::new().create(true).append(true).open(self.log(&spec.name))?;
        let child = Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .spawn()
            .with_context(|| format!("{} could not be started", spec.program.display()))?;
        let what = if restart == 0 { "started".to_string() } else { format!("restart {restart}") };
        writeln!(log, "--- polyfleet up: {} {what}, pid {} ---", spec.name, child.id())?;
        std::fs::write(self.dir.join(format!("{}.pid", spec.name)), format!("{}\n", child.id()))?;
        Ok(child)
    }

    /// The directory of logs, pid files and the servers' data.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file of a process.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// Reaps what died, restarts what is due, probes external servers; what happened, as lines.
    pub fn poll(&mut self, now: Instant) -> Vec<String> {
        let mut out = vec![];
        for i in 0..self.procs.len() {
            let p = &mut self.procs[i];
            match &mut p.state {
                State::Running { child, since } => {
                    let Ok(Some(status)) = child.try_wait() else { continue };
                    let ran = now.saturating_duration_since(*since);
                    if ran >= HEALTHY_AFTER {
                        p.backoff = FIRST_BACKOFF;
                    }
                    let why = describe(status);
                    out.push(format!(
                        "{} died ({why}) after {}; restarting in {}",
                        p.spec.name,
                        secs(ran),
                        secs(p.backoff)
                    ));
                    p.state = State::Down { since: now, restart_at: now + p.backoff, why };
                    p.backoff = (p.backoff * 2).min(MAX_BACKOFF);
                }
                State::Down { restart_at, since, .. } if now >= *restart_at => {
                    let down_for = now.saturating_duration_since(*since);
                    let restart = p.restarts + 1;
                    let spec = p.spec.clone();
                    match self.spawn(&spec, restart) {
                        Ok(child) => {
                            let p = &mut self.procs[i];
                            out.push(format!(
                                "{} restarted (restart {restart}, pid {}, down {})",
                                spec.name,
                                child.id(),
                                secs(down_for)
                            ));
                            p.restarts = restart;
                            p.state = State::Running { child, since: now };
                        }
                        Err(e) => {
                            let p = &mut self.procs[i];
                            out.push(format!(
                                "{} could not be restarted ({e:#}); next try in {}",
                                spec.name,
                                secs(p.backoff)
                            ));
                            if let State::Down { restart_at, .. } = &mut p.state {
                                *restart_at = now + p.backoff;
                            }
                            p.backoff = (p.backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                }
                _ => {}
            }
        }
        for x in &mut self.external {
            let up = x.addr.is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok());
            match (up, x.down_since) {
                (false, None) => {
                    x.down_since = Some(now);
                    out.push(format!("{} (given by URL) is unreachable", x.name));
                }
                (true, Some(since)) => {
                    x.down_since = None;
                    out.push(format!("{} (given by URL) is reachable again after {}", x.name, secs(now - since)));
                }
                _ => {}
            }
        }
        out
    }

    /// One line per process: up (for how long, pid, restarts) or down (why, restart due).
    pub fn status(&self, now: Instant) -> Vec<String> {
        let mut out = vec![];
        for p in &self.procs {
            let name = &p.spec.name;
            let line = match &p.state {
                State::Running { child, since } => format!(
                    "{name:<24} up {:>7}  pid {:<7} restarts {}",
                    secs(now.saturating_duration_since(*since)),
                    child.id(),
                    p.restarts
                ),
                State::Down { since, restart_at, why } => format!(
                    "{name:<24} DOWN {} ({why}), restart in {}, restarts {}",
                    secs(now.saturating_duration_since(*since)),
                    secs(restart_at.saturating_duration_since(now)),
                    p.restarts
                ),
                State::Stopped => format!("{name:<24} stopped"),
            };
            out.push(line);
        }
        for x in &self.external {
            out.push(match x.down_since {
                None => format!("{:<24} reachable (given by URL)", x.name),
                Some(since) => {
                    format!(
                        "{:<24} UNREACHABLE for {} (given by URL)",
                        x.name,
                        secs(now.saturating_duration_since(since))
                    )
                }
            });
        }
        out
    }

    /// Restarts so far, per process.
    pub fn restarts(&self) -> Vec<(String, u32)> {
        self.procs.iter().map(|p| (p.spec.name.clone(), p.restarts)).collect()
    }

    /// Waits until every process is ready (or `deadline` passes); the ones that are not.
    pub async fn wait_ready(&mut self, deadline: Instant) -> Vec<String> {
        loop {
            let mut waiting = vec![];
            for p in &mut self.procs {
                let alive = match &mut p.state {
                    State::Running { child, .. } => matches!(child.try_wait(), Ok(None)),
                    _ => false,
                };
                let ok = alive
                    && match p.spec.probe {
                        Probe::Readyz(port) => ready(port).await,
                        Probe::Port(port) => tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok(),
                    };
                if !ok {
                    waiting.push(p.spec.name.clone());
                }
            }
            if waiting.is_empty() || Instant::now() >= deadline {
                return waiting;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops everything: SIGTERM to the agents and the simulator (they stop cleanly on it), a
    /// kill for what is left after 5 s; then the same for the infrastructure.
    pub async fn stop(&mut self) {
        for infrastructure in [false, true] {
            let group: Vec<usize> =
                (0..self.procs.len()).filter(|&i| self.procs[i].spec.infrastructure == infrastructure).collect();
            self.stop_group(&group).await;
        }
    }

    /// Stops the processes whose names start with `prefix` (the strategies, before the last
    /// cancels, so none places an order after them); they are not restarted.
    pub async fn stop_named(&mut self, prefix: &str) {
        let group: Vec<usize> =
            (0..self.procs.len()).filter(|&i| self.procs[i].spec.name.starts_with(prefix)).collect();
        self.stop_group(&group).await;
    }

    async fn stop_group(&mut self, group: &[usize]) {
        for &i in group {
            if let State::Running { child, .. } = &self.procs[i].state {
                terminate(child);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for &i in group {
            let p = &mut self.procs[i];
            if let State::Running { child, .. } = &mut p.state {
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if matches!(child.try_wait(), Ok(None)) {
                    eprintln!("{} did not stop within 5 s of SIGTERM: killing it", p.spec.name);
                    let _ = child.kill();
                }
                let _ = child.wait();
            }
            p.state = State::Stopped;
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if let State::Running { child, .. } = &mut p.state {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn terminate(child: &Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a pid this process spawned and has not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

/// `GET /readyz` answers 200.
async fn ready(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
    let req = "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 64];
    let n = s.read(&mut buf).await.unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("polyfleet-supervisor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Polls at `at` until something is reported (a death is reaped asynchronously), at most 2 s.
    fn poll_until_reported(s: &mut Supervisor, at: Instant) -> Vec<String> {
        for _ in 0..200 {
            let got = s.poll(at);
            if !got.is_empty() {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        vec![]
    }

    fn pid(dir: &Path, name: &str) -> i32 {
        std::fs::read_to_string(dir.join(format!("{name}.pid"))).unwrap().trim().parse().unwrap()
    }

    #[test]
    fn a_killed_process_is_reported_and_restarted_with_growing_backoff() {
        let d = dir("kill");
        let mut s = Supervisor::new(&d);
        s.start(Spec::new("sleeper", "sleep", Probe::Port(1)).args(["600"])).unwrap();
        let t0 = Instant::now();
        assert!(s.poll(t0).is_empty(), "nothing happened yet");
        let first = pid(&d, "sleeper");
        // SAFETY: a pid this test's supervisor spawned.
        unsafe { libc::kill(first, libc::SIGKILL) };
        let died = poll_until_reported(&mut s, t0);
        assert_eq!(died.len(), 1, "{died:?}");
        assert!(died[0].starts_with("sleeper died (killed by signal 9 (SIGKILL)) after"), "{died:?}");
        assert!(died[0].ends_with("restarting in 0.5 s"), "{died:?}");
        let status = s.status(t0 + Duration::from_millis(200)).join("\n");
        assert!(
            status.contains("sleeper") && status.contains("DOWN") && status.contains("restart in 0.3 s"),
            "{status}"
        );
        // Not before the backoff; then restarted, with a new pid, counted, and marked in the log.
        assert!(s.poll(t0 + Duration::from_millis(400)).is_empty());
        let restarted = s.poll(t0 + FIRST_BACKOFF);
        assert_eq!(restarted.len(), 1, "{restarted:?}");
        assert!(restarted[0].starts_with("sleeper restarted (restart 1, pid"), "{restarted:?}");
        let second = pid(&d, "sleeper");
        assert_ne!(first, second);
        assert_eq!(s.restarts(), vec![("sleeper".to_string(), 1)]);
        let log = std::fs::read_to_string(s.log("sleeper")).unwrap();
        assert!(log.contains("sleeper started") && log.contains("sleeper restart 1"), "{log}");
        // Dying again quickly doubles the delay.
        // SAFETY: as above.
        unsafe { libc::kill(second, libc::SIGKILL) };
        let t1 = t0 + FIRST_BACKOFF + Duration::from_secs(1);
        let again = poll_until_reported(&mut s, t1);
        assert!(again[0].ends_with("restarting in 1.0 s"), "{again:?}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_process_that_ran_long_enough_restarts_after_the_first_delay_and_exit_codes_are_named() {
        let d = dir("healthy");
        let mut s = Supervisor::new(&d);
        s.start(Spec::new("quitter", "sh", Probe::Port(1)).args(["-c", "exit 3"])).unwrap();
        s.procs[0].backoff = MAX_BACKOFF;
        let later = Instant::now() + HEALTHY_AFTER + Duration::from_secs(1);
        let died = poll_until_reported(&mut s, later);
        assert!(died[0].starts_with("quitter died (exit code 3) after"), "{died:?}");
        assert!(died[0].ends_with("restarting in 0.5 s"), "{died:?}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_external_server_is_probed_and_its_outage_reported() {
        let d = dir("external");
        // Hold the port for the whole test with a bound socket that never listens: nothing else can
        // take it between the two phases (a parallel test's bind or outgoing connection), and the
        // probe's own connection cannot use it as its source port (a loopback self-connect would look
        // like a server). Both sockets set SO_REUSEADDR, which lets the listener share the port while
        // the holder does not listen.
        let reusable = || {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            sock.set_reuse_address(true).unwrap();
            sock
        };
        let hold = reusable();
        hold.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
        let port = hold.local_addr().unwrap().as_socket().unwrap().port();
        let listener = reusable();
        listener.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into()).unwrap();
        listener.listen(8).unwrap();
        let mut s = Supervisor::new(&d);
        s.watch_external("redis", &format!("redis://:secret@127.0.0.1:{port}/0"));
        let t = Instant::now();
        assert!(s.poll(t).is_empty());
        assert!(s.status(t)[0].contains("reachable (given by URL)"), "{:?}", s.status(t));
        drop(listener);
        assert_eq!(s.poll(t), vec!["redis (given by URL) is unreachable".to_string()]);
        assert!(s.status(t + Duration::from_secs(2))[0].contains("UNREACHABLE for 2.0 s"), "{:?}", s.status(t));
        let _ = std::fs::remove_dir_all(&d);
    }
}
