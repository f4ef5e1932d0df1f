//! `cairn-sqllogictest`: runs the `.slt` files under `engine/sqllogictest/slt/` over the real
//! MySQL wire against a real `cairn allin1` process.
//!
//! Each file gets a fresh server (free loopback ports, a new data directory) unless `--connect`
//! names a running one. `--complete` rewrites the expected output of each file from what the
//! server returns. Besides the standard records, a file may restart its server:
//!
//! ```text
//! system ok
//! cairn-restart
//!
//! system ok
//! cairn-restart --kill
//! ```
//!
//! The first stops the server with SIGTERM, the second with SIGKILL (a crash); both start it
//! again on the same ports and data directory and wait for `/api/health`. Every session
//! reconnects to its current database before its next statement. With
//! `control substitution on`, `$CAIRN_MYSQL_PORT`, `$CAIRN_HTTP_PORT`, `$CAIRN_BE_HTTP_PORT`
//! and `$CAIRN_DATA_DIR` are available to `system` commands and SQL.

mod connection;
mod server;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::Parser;
use sqllogictest::{
    DefaultColumnType, Normalizer, Record, Runner, default_column_validator, default_normalizer,
    default_validator, parse_file, update_record_with_output,
};

use crate::connection::{CairnSession, Endpoint, SharedEndpoint};
use crate::server::{CairnServer, StopMode};

/// The `system` command that restarts the server (see the crate docs).
const RESTART_COMMAND: &str = "cairn-restart";

#[derive(Debug, Parser)]
#[command(about = "Run the .slt suite against cairn allin1 over the MySQL protocol")]
struct Arguments {
    /// The cairn binary to start. Defaults to `cairn` next to this executable.
    #[arg(long, env = "CAIRN_BIN")]
    cairn_bin: Option<PathBuf>,

    /// Use an already running server at HOST:PORT instead of starting one per file.
    #[arg(long, env = "CAIRN_SLT_CONNECT")]
    connect: Option<String>,

    /// The directory searched (recursively) for `.slt` files.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/slt"))]
    slt_dir: PathBuf,

    /// Rewrite the expected output of each file with what the server returns.
    #[arg(long)]
    complete: bool,

    /// Report every failing record of a file instead of stopping at the first one.
    #[arg(long)]
    keep_going: bool,

    /// Where per-file data directories and server logs go (kept when a file fails).
    #[arg(long, env = "CAIRN_SLT_WORK_DIR")]
    work_dir: Option<PathBuf>,

    /// Only run files whose path contains one of these strings.
    filters: Vec<String>,
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to build the tokio runtime")
        .and_then(|runtime| runtime.block_on(run_suite(&arguments)));
    match outcome {
        Ok((passed, 0)) => {
            println!("sqllogictest: {passed} passed, 0 failed");
            ExitCode::SUCCESS
        }
        Ok((passed, failed)) => {
            println!("sqllogictest: {passed} passed, {failed} failed");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("cairn-sqllogictest: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_suite(arguments: &Arguments) -> Result<(usize, usize)> {
    let files = find_slt_files(&arguments.slt_dir, &arguments.filters)?;
    if files.is_empty() {
        bail!(
            "no .slt files under {} match {:?}",
            arguments.slt_dir.display(),
            arguments.filters
        );
    }
    let work_root = match &arguments.work_dir {
        Some(directory) => directory.clone(),
        None => std::env::temp_dir().join(format!("cairn-slt-{}", std::process::id())),
    };
    let binary = match &arguments.cairn_bin {
        Some(path) => path.clone(),
        None => default_cairn_binary()?,
    };

    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let name = file
            .strip_prefix(&arguments.slt_dir)
            .unwrap_or(file)
            .display()
            .to_string();
        let work_dir = work_root.join(name.replace(['/', '.'], "_"));
        let started = std::time::Instant::now();
        match run_file(arguments, &binary, file, &work_dir).await {
            Ok(()) => {
                passed += 1;
                println!("ok     {name} ({:.1}s)", started.elapsed().as_secs_f64());
                if let Err(error) = std::fs::remove_dir_all(&work_dir)
                    && error.kind() != std::io::ErrorKind::NotFound
                {
                    eprintln!("failed to remove {}: {error}", work_dir.display());
                }
            }
            Err(error) => {
                failed += 1;
                println!(
                    "FAILED {name}\n{error:#}\n(server files kept in {})",
                    work_dir.display()
                );
            }
        }
    }
    if failed == 0 {
        let _ = std::fs::remove_dir_all(&work_root);
    }
    Ok((passed, failed))
}

/// Runs (or completes) one file against its own server, or the `--connect` one.
async fn run_file(
    arguments: &Arguments,
    binary: &Path,
    file: &Path,
    work_dir: &Path,
) -> Result<()> {
    let mut server = None;
    let endpoint = match &arguments.connect {
        Some(address) => {
            let (host, port) = address
                .rsplit_once(':')
                .with_context(|| format!("--connect {address:?} is not HOST:PORT"))?;
            let port = port
                .parse()
                .with_context(|| format!("--connect {address:?} has a bad port"))?;
            Endpoint {
                host: host.to_string(),
                port,
                generation: 0,
            }
        }
        None => {
            // A failed run keeps its directory for a look; the next run starts clean.
            if work_dir.exists() {
                std::fs::remove_dir_all(work_dir)
                    .with_context(|| format!("failed to remove the previous run's {}", work_dir.display()))?;
            }
            std::fs::create_dir_all(work_dir)
                .with_context(|| format!("failed to create {}", work_dir.display()))?;
            let started = CairnServer::start(binary, work_dir)?;
            let endpoint = Endpoint {
                host: "127.0.0.1".to_string(),
                port: started.query_address().port(),
                generation: 0,
            };
            server = Some(started);
            endpoint
        }
    };
    let endpoint: SharedEndpoint = Arc::new(Mutex::new(endpoint));

    let make_endpoint = endpoint.clone();
    let mut runner = Runner::new(move || CairnSession::connect(make_endpoint.clone()));
    runner.with_validator(validate_multiline_values);
    if let Some(server) = &server {
        let ports = server.ports();
        runner.set_var("CAIRN_MYSQL_PORT".to_string(), ports.query.to_string());
        runner.set_var("CAIRN_HTTP_PORT".to_string(), ports.http.to_string());
        runner.set_var(
            "CAIRN_BE_HTTP_PORT".to_string(),
            ports.backend_http.to_string(),
        );
        runner.set_var(
            "CAIRN_DATA_DIR".to_string(),
            server.data_dir().display().to_string(),
        );
    }

    let records = parse_file::<DefaultColumnType>(file)
        .with_context(|| format!("failed to parse {}", file.display()))?;
    let outcome = if arguments.complete {
        complete_records(&mut runner, &mut server, &endpoint, records, file).await
    } else {
        run_records(
            &mut runner,
            &mut server,
            &endpoint,
            records,
            arguments.keep_going,
        )
        .await
    };
    runner.shutdown_async().await;
    match (outcome, &server) {
        (Err(error), Some(server)) => Err(anyhow::anyhow!("{error:#}\n{}", server.log_tail(30))),
        (outcome, _) => outcome,
    }
}

type CairnRunner<F> = Runner<CairnSession, F>;

async fn run_records<F>(
    runner: &mut CairnRunner<F>,
    server: &mut Option<CairnServer>,
    endpoint: &SharedEndpoint,
    records: Vec<Record<DefaultColumnType>>,
    keep_going: bool,
) -> Result<()>
where
    F: sqllogictest::MakeConnection<Conn = CairnSession>,
{
    let mut failures = String::new();
    for record in records {
        if let Record::Halt { .. } = record {
            break;
        }
        if let Some(mode) = restart_request(&record) {
            restart(server, endpoint, mode)?;
            continue;
        }
        if let Err(error) = runner.run_async(record).await {
            let _ = writeln!(failures, "{}", error.display(false));
            if !keep_going {
                break;
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        bail!("{failures}")
    }
}

/// Runs every record and writes it back with the output the server gave, like the
/// sqllogictest crate's `update_test_file`, but with the restart directive understood.
async fn complete_records<F>(
    runner: &mut CairnRunner<F>,
    server: &mut Option<CairnServer>,
    endpoint: &SharedEndpoint,
    records: Vec<Record<DefaultColumnType>>,
    file: &Path,
) -> Result<()>
where
    F: sqllogictest::MakeConnection<Conn = CairnSession>,
{
    let mut output = String::new();
    let mut halted = false;
    for record in records {
        if let Record::Injected(_) = record {
            bail!("--complete does not support `include` ({})", file.display());
        }
        if halted {
            let _ = writeln!(output, "{record}");
            continue;
        }
        if let Record::Halt { .. } = record {
            halted = true;
            let _ = writeln!(output, "{record}");
            continue;
        }
        if let Some(mode) = restart_request(&record) {
            restart(server, endpoint, mode)?;
            let _ = writeln!(output, "{record}");
            continue;
        }
        let record_output = runner.apply_record(record.clone()).await;
        let updated = update_record_with_output(
            &record,
            &record_output,
            " ",
            validate_multiline_values,
            default_normalizer,
            default_column_validator,
        )
        .unwrap_or(record);
        let _ = writeln!(output, "{updated}");
    }
    let text = format!("{}\n", output.trim_end_matches('\n'));
    std::fs::write(file, text).with_context(|| format!("failed to write {}", file.display()))
}

/// `Some(mode)` when the record is the `system ok` / `cairn-restart` directive.
fn restart_request(record: &Record<DefaultColumnType>) -> Option<StopMode> {
    let Record::System { command, .. } = record else {
        return None;
    };
    let mut words = command.split_whitespace();
    if words.next() != Some(RESTART_COMMAND) {
        return None;
    }
    match words.next() {
        Some("--kill") => Some(StopMode::Kill),
        _ => Some(StopMode::Graceful),
    }
}

fn restart(
    server: &mut Option<CairnServer>,
    endpoint: &SharedEndpoint,
    mode: StopMode,
) -> Result<()> {
    let Some(server) = server.as_mut() else {
        bail!(
            "{RESTART_COMMAND} needs a server started by the runner; it cannot restart a --connect server"
        );
    };
    server.restart(mode)?;
    let mut endpoint = endpoint
        .lock()
        .map_err(|_| anyhow::anyhow!("endpoint lock poisoned"))?;
    endpoint.generation += 1;
    Ok(())
}

/// The default validator, and then the same comparison with values that contain newlines
/// (SHOW CREATE TABLE) split into one expected line each.
fn validate_multiline_values(
    normalizer: Normalizer,
    actual: &[Vec<String>],
    expected: &[String],
) -> bool {
    if default_validator(normalizer, actual, expected) {
        return true;
    }
    let actual_lines: Vec<String> = actual
        .iter()
        .map(|row| row.join(" "))
        .flat_map(|line| line.lines().map(str::to_owned).collect::<Vec<_>>())
        .map(|line| normalizer(&line))
        .collect();
    let expected_lines: Vec<String> = expected
        .iter()
        .flat_map(|line| line.lines().map(str::to_owned).collect::<Vec<_>>())
        .map(|line| normalizer(&line))
        .collect();
    actual_lines == expected_lines
}

fn default_cairn_binary() -> Result<PathBuf> {
    let executable = std::env::current_exe().context("failed to locate this executable")?;
    let directory = executable
        .parent()
        .context("this executable has no parent directory")?;
    Ok(directory.join("cairn"))
}

/// Every `.slt` file under `directory`, sorted, filtered by substrings of their paths.
fn find_slt_files(directory: &Path, filters: &[String]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![directory.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("failed to read {}", current.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "slt") {
                let text = path.display().to_string();
                if filters.is_empty() || filters.iter().any(|filter| text.contains(filter)) {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_values_match_expected_lines() {
        let actual = vec![vec![
            "t".to_string(),
            "CREATE TABLE `t` (\n  `a` int(11) NULL\n)".to_string(),
        ]];
        let expected = vec![
            "t CREATE TABLE `t` (".to_string(),
            "`a` int(11) NULL".to_string(),
            ")".to_string(),
        ];
        assert!(validate_multiline_values(
            default_normalizer,
            &actual,
            &expected
        ));
        assert!(!validate_multiline_values(
            default_normalizer,
            &actual,
            &expected[..2]
        ));
    }

    #[test]
    fn restart_directive_is_recognised() {
        let records = sqllogictest::parse::<DefaultColumnType>(
            "system ok\ncairn-restart\n\nsystem ok\ncairn-restart --kill\n\nsystem ok\necho hi\n",
        )
        .expect("the test script parses");
        let modes: Vec<_> = records.iter().filter_map(restart_request).collect();
        assert_eq!(modes, vec![StopMode::Graceful, StopMode::Kill]);
    }
}
