//! Test support shared with the other crates: a throwaway nats-server per test.
//!
//! Each [`NatsServer`] is a fresh process on its own port, with JetStream in its own
//! temporary directory, so tests neither depend on a broker someone left running nor see
//! each other's subjects and streams.

use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the nats-server binary to use instead of the system one.
pub const NATS_SERVER_ENV: &str = "NATS_SERVER_BIN";

/// How long a server gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A nats-server with JetStream, listening on 127.0.0.1 on a free port, killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    /// Server configuration file (e.g. an `authorization` block), when started with one.
    config: Option<PathBuf>,
}

impl NatsServer {
    /// Starts a server and waits until it accepts clients (blocking, typically well under a
    /// second). The error says what to install when the binary is missing.
    pub fn start() -> io::Result<NatsServer> {
        Self::start_inner(None)
    }

    /// As [`NatsServer::start`], with `config` as the server's configuration file (nats-server
    /// syntax, e.g. an `authorization { users = [...] }` block to test permissions). Address,
    /// port, JetStream and log still come from the command line.
    pub fn start_with_config(config: &str) -> io::Result<NatsServer> {
        Self::start_inner(Some(config))
    }

    fn start_inner(config: Option<&str>) -> io::Result<NatsServer> {
        let binary = find_binary()?;
        // The port is picked by binding port 0 then released: another process could grab it
        // in between, so a failed start is retried on a new port.
        let mut last_error = None;
        for _ in 0..3 {
            match Self::start_on_free_port(&binary, config) {
                Ok(server) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("nats-server did not start")))
    }

    fn start_on_free_port(binary: &Path, config: Option<&str>) -> io::Result<NatsServer> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let dir = tempfile::Builder::new()
            .prefix("passerelle-nats-")
            .tempdir()?;
        let config = match config {
            Some(text) => {
                let path = dir.path().join("nats-server.conf");
                std::fs::write(&path, text)?;
                Some(path)
            }
            None => None,
        };
        let child = spawn(binary, port, dir.path(), config.as_deref())?;
        let mut server = NatsServer {
            child,
            binary: binary.to_owned(),
            port,
            dir,
            config,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Kills the server (SIGKILL: a crash, not a shutdown) and starts it again on the same
    /// port and store, to test what survives and how clients reconnect.
    pub fn restart(&mut self) -> io::Result<()> {
        let _ = self.child.kill();
        self.child.wait()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.child = spawn(
                &self.binary,
                self.port,
                self.dir.path(),
                self.config.as_deref(),
            )?;
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                // The old socket may linger a moment before the port can be bound again.
                Err(_) if Instant::now() < deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for our server's log to say it is ready and for the NATS greeting (an `INFO`
    /// line) on the port: a plain TCP connect could succeed against another process that
    /// took the port.
    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "nats-server exited ({status}) before accepting clients; log:\n{}",
                    self.log_tail()
                )));
            }
            let logged_ready = std::fs::read_to_string(self.dir.path().join("nats-server.log"))
                .is_ok_and(|log| log.contains("Server is ready"));
            if !logged_ready {
                // Not listening yet.
            } else if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200))
            {
                stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut line = String::new();
                if BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "nats-server not ready on port {} after {START_TIMEOUT:?}; log:\n{}",
                        self.port,
                        self.log_tail()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("nats-server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id (benchmarks account for its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The JetStream store directory, to check what was persisted.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        // Already exited is fine; the temporary directory goes after the process.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(binary: &Path, port: u16, dir: &Path, config: Option<&Path>) -> io::Result<Child> {
    // nats-server appends to its log: start afresh so readiness is read from this run only.
    match std::fs::remove_file(dir.join("nats-server.log")) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut command = Command::new(binary);
    if let Some(config) = config {
        command.arg("-c").arg(config);
    }
    command
        .arg("-a")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(port.to_string())
        .arg("-js")
        .arg("-sd")
        .arg(dir.join("jetstream"))
        .arg("-l")
        .arg(dir.join("nats-server.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", binary.display())))
}

/// `$NATS_SERVER_BIN`, else Debian's `/usr/sbin/nats-server`, else `nats-server` on the PATH.
fn find_binary() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os(NATS_SERVER_ENV) {
        return Ok(PathBuf::from(path));
    }
    let debian = PathBuf::from("/usr/sbin/nats-server");
    if debian.is_file() {
        return Ok(debian);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "nats-server not found (neither $NATS_SERVER_BIN, /usr/sbin/nats-server nor on \
                 the PATH): `apt-get install nats-server` to run the NATS tests",
            )
        })
}

/// Which bus a test runs on; see [`on_both_buses!`](crate::on_both_buses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusKind {
    InProcess,
    Nats,
}

/// Runs each case on both buses: two tests per case, `in_process::case` and `nats::case`
/// (multi-threaded tokio runtime, two workers). The one "both buses" macro of the
/// workspace; the invoking crate needs `tokio` (with `macros`) among its dev-dependencies.
///
/// - `on_both_buses!(a, b)`: each case is `async fn a(bus: BusKind)` in the invoking module.
/// - `on_both_buses!(with setup: a, b)`: each case is `async fn a(fixture: &F)` in the
///   invoking module, and `async fn setup(bus: BusKind) -> F` makes its fixture.
#[macro_export]
macro_rules! on_both_buses {
    (with $setup:path: $($case:ident),* $(,)?) => {
        mod in_process {
            // The setup may be named relative to the invoking module.
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = $setup($crate::testing::BusKind::InProcess).await;
                    super::$case(&fixture).await
                }
            )*
        }
        mod nats {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = $setup($crate::testing::BusKind::Nats).await;
                    super::$case(&fixture).await
                }
            )*
        }
    };
    ($($case:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() { super::$case($crate::testing::BusKind::InProcess).await }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() { super::$case($crate::testing::BusKind::Nats).await }
            )*
        }
    };
}
