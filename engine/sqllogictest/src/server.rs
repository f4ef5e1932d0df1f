//! A `cairn allin1` child process on free loopback ports with its own data directory.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a server may take to answer its health check after start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a graceful stop may take before the process is killed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The ports one `cairn allin1` listens on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    pub(crate) query: u16,
    pub(crate) http: u16,
    pub(crate) backend_http: u16,
    pub(crate) backend: u16,
}

impl Ports {
    /// Picks four distinct free ports by binding port 0 and releasing it.
    fn pick_free() -> Result<Self> {
        let listeners = (0..4)
            .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .collect::<std::io::Result<Vec<_>>>()
            .context("failed to bind a free loopback port")?;
        let ports = listeners
            .iter()
            .map(|listener| listener.local_addr().map(|address| address.port()))
            .collect::<std::io::Result<Vec<_>>>()
            .context("failed to read a bound port")?;
        Ok(Self {
            query: ports[0],
            http: ports[1],
            backend_http: ports[2],
            backend: ports[3],
        })
    }
}

/// How to stop the server before a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// SIGTERM, then wait for the process to exit.
    Graceful,
    /// SIGKILL: a crash at an arbitrary moment.
    Kill,
}

/// A running `cairn allin1` process owned by the runner.
pub(crate) struct CairnServer {
    binary: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    ports: Ports,
    child: Option<Child>,
}

impl CairnServer {
    /// Starts `binary allin1` with a data directory under `work_dir` and waits until it is ready.
    pub(crate) fn start(binary: &Path, work_dir: &Path) -> Result<Self> {
        if !binary.is_file() {
            bail!(
                "cairn binary {} does not exist; build it with `cargo build -p cairn` or pass --cairn-bin",
                binary.display()
            );
        }
        let data_dir = work_dir.join("data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("failed to create data directory {}", data_dir.display()))?;
        let mut server = Self {
            binary: binary.to_path_buf(),
            data_dir,
            log_path: work_dir.join("cairn.log"),
            ports: Ports::pick_free()?,
            child: None,
        };
        server.spawn_and_wait()?;
        Ok(server)
    }

    pub(crate) fn ports(&self) -> Ports {
        self.ports
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn query_address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.query))
    }

    /// Stops the server and starts it again on the same ports and data directory.
    pub(crate) fn restart(&mut self, mode: StopMode) -> Result<()> {
        self.stop(mode)?;
        self.spawn_and_wait()
    }

    /// The last lines of the server's log, for failure reports.
    pub(crate) fn log_tail(&self, line_count: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(line_count);
        format!(
            "--- last {} lines of {} ---\n{}",
            lines.len() - start,
            self.log_path.display(),
            lines[start..].join("\n")
        )
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("failed to open server log {}", self.log_path.display()))?;
        let log_for_stdout = log.try_clone().context("failed to clone log file handle")?;
        let child = Command::new(&self.binary)
            .arg("allin1")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--query-port")
            .arg(self.ports.query.to_string())
            .arg("--http-port")
            .arg(self.ports.http.to_string())
            .arg("--be-http-port")
            .arg(self.ports.backend_http.to_string())
            .arg("--be-port")
            .arg(self.ports.backend.to_string())
            .stdin(Stdio::null())
            .stdout(log_for_stdout)
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to start {}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_until_ready()
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("failed to poll cairn process")?
            {
                bail!(
                    "cairn exited with {status} before it was ready\n{}",
                    self.log_tail(40)
                );
            }
            if health_is_ok(self.ports.http) && TcpStream::connect(self.query_address()).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "cairn was not ready after {STARTUP_TIMEOUT:?} (GET /api/health on port {} and MySQL port {})\n{}",
                    self.ports.http,
                    self.ports.query,
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&mut self, mode: StopMode) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        if mode == StopMode::Graceful {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .context("failed to run kill -TERM")?;
            if status.success() {
                let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
                while Instant::now() < deadline {
                    if child.try_wait()?.is_some() {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                eprintln!(
                    "cairn did not stop within {SHUTDOWN_TIMEOUT:?} after SIGTERM; killing it"
                );
            }
        }
        child.kill().context("failed to kill cairn")?;
        child.wait().context("failed to reap cairn")?;
        Ok(())
    }
}

impl Drop for CairnServer {
    fn drop(&mut self) {
        if let Err(error) = self.stop(StopMode::Graceful) {
            eprintln!("failed to stop cairn: {error:#}");
        }
    }
}

/// True when `GET /api/health` answers 200 with `"status":"OK"` in its JSON body.
fn health_is_ok(http_port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, http_port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "GET /api/health HTTP/1.0\r\nHost: 127.0.0.1:{http_port}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    if stream.read_to_string(&mut response).is_err() {
        return false;
    }
    let status_ok = response
        .lines()
        .next()
        .is_some_and(|status_line| status_line.split_whitespace().nth(1) == Some("200"));
    let compact_body: String = response.chars().filter(|c| !c.is_whitespace()).collect();
    status_ok && compact_body.contains(r#""status":"OK""#)
}
