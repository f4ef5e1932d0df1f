//! Settings of `cairn allin1`. Each has a flag, an environment variable (`CAIRN_` plus the
//! name in capitals) and a config-file entry (`name = value` lines, as in StarRocks'
//! `fe.conf`). A flag or variable wins over the file, and the file over the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub(crate) struct Allin1Args {
    /// Config file of `name = value` lines; flags and environment variables override it.
    #[arg(long, env = "CAIRN_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Where metadata and tablets live.
    #[arg(long, env = "CAIRN_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Address other nodes and SHOW FRONTENDS/BACKENDS report.
    #[arg(long, env = "CAIRN_HOST")]
    pub(crate) host: Option<String>,
    /// MySQL protocol port.
    #[arg(long, env = "CAIRN_QUERY_PORT")]
    pub(crate) query_port: Option<u16>,
    /// FE HTTP port (health, metrics).
    #[arg(long, env = "CAIRN_HTTP_PORT")]
    pub(crate) http_port: Option<u16>,
    /// FE RPC port, reported by SHOW FRONTENDS.
    #[arg(long, env = "CAIRN_RPC_PORT")]
    pub(crate) rpc_port: Option<u16>,
    /// FE metadata replication port, reported by SHOW FRONTENDS.
    #[arg(long, env = "CAIRN_EDIT_LOG_PORT")]
    pub(crate) edit_log_port: Option<u16>,
    /// BE RPC port.
    #[arg(long, env = "CAIRN_BE_PORT")]
    pub(crate) be_port: Option<u16>,
    /// BE HTTP port (health, metrics).
    #[arg(long, env = "CAIRN_BE_HTTP_PORT")]
    pub(crate) be_http_port: Option<u16>,
    /// Buckets of a table whose DDL names none.
    #[arg(long, env = "CAIRN_DEFAULT_BUCKETS")]
    pub(crate) default_buckets: Option<u32>,
    /// Journal records between metadata checkpoints.
    #[arg(long, env = "CAIRN_CHECKPOINT_INTERVAL")]
    pub(crate) checkpoint_interval: Option<u64>,
    /// Seconds between compaction rounds.
    #[arg(long, env = "CAIRN_COMPACTION_INTERVAL_SECONDS")]
    pub(crate) compaction_interval_seconds: Option<u64>,
    /// Small rowsets of a tablet that trigger a compaction.
    #[arg(long, env = "CAIRN_COMPACTION_MIN_ROWSETS")]
    pub(crate) compaction_min_rowsets: Option<usize>,
    /// Seconds replaced rowsets stay for readers of older versions.
    #[arg(long, env = "CAIRN_STALE_ROWSET_RETENTION_SECONDS")]
    pub(crate) stale_rowset_retention_seconds: Option<u64>,
    /// Most concurrent MySQL connections.
    #[arg(long, env = "CAIRN_MAX_CONNECTIONS")]
    pub(crate) max_connections: Option<usize>,
    /// Largest MySQL packet accepted, in bytes.
    #[arg(long, env = "CAIRN_MAX_ALLOWED_PACKET")]
    pub(crate) max_allowed_packet: Option<usize>,
    /// Largest Stream Load body, in MB after decompression (StarRocks' `streaming_load_max_mb`).
    #[arg(long, env = "CAIRN_STREAMING_LOAD_MAX_MB")]
    pub(crate) streaming_load_max_mb: Option<u64>,
    /// The `time_zone` sessions start with.
    #[arg(long, env = "CAIRN_TIME_ZONE")]
    pub(crate) time_zone: Option<String>,
    /// Memory for decoded columns that warm queries reuse: a share of the machine's memory
    /// (`20%`), bytes (`4G`, `512M`, `1073741824`), or `0` to turn the cache off.
    #[arg(long, env = "CAIRN_STORAGE_PAGE_CACHE_LIMIT")]
    pub(crate) storage_page_cache_limit: Option<String>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "CAIRN_LOG_FORMAT")]
    pub(crate) log_format: Option<String>,
    /// Run a demo workload against this node: `sensors` pushes sensor readings every second.
    #[arg(long, env = "CAIRN_DEMO")]
    pub(crate) demo: Option<String>,
}

/// Settings after flags, environment, file and defaults are merged.
#[derive(Debug, Clone)]
pub(crate) struct Allin1Config {
    pub(crate) data_dir: PathBuf,
    pub(crate) host: String,
    pub(crate) query_port: u16,
    pub(crate) http_port: u16,
    pub(crate) rpc_port: u16,
    pub(crate) edit_log_port: u16,
    pub(crate) be_port: u16,
    pub(crate) be_http_port: u16,
    pub(crate) default_buckets: u32,
    pub(crate) checkpoint_interval: u64,
    pub(crate) compaction_interval_seconds: u64,
    pub(crate) compaction_min_rowsets: usize,
    pub(crate) stale_rowset_retention_seconds: u64,
    pub(crate) max_connections: usize,
    pub(crate) max_allowed_packet: usize,
    pub(crate) streaming_load_max_mb: u64,
    pub(crate) time_zone: String,
    /// In bytes.
    pub(crate) storage_page_cache_limit: usize,
    pub(crate) log_format: String,
    pub(crate) demo: Option<String>,
}

fn read_config_file(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read config file {}", path.display()))?;
    let mut entries = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("{}:{}: expected `name = value`, found {line:?}", path.display(), number + 1);
        };
        entries.insert(key.trim().to_lowercase(), value.trim().trim_matches('"').to_string());
    }
    Ok(entries)
}

fn pick<T: std::str::FromStr>(
    given: Option<T>,
    file: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    if let Some(value) = given {
        return Ok(value);
    }
    match file.get(key) {
        Some(text) => text
            .parse()
            .map_err(|error| anyhow::anyhow!("config entry {key} = {text:?} is invalid: {error}")),
        None => Ok(default),
    }
}

/// A memory size: a percentage of the machine's memory, or bytes with an optional K/M/G/T.
fn parse_memory_size(text: &str) -> anyhow::Result<usize> {
    let text = text.trim();
    if let Some(percent) = text.strip_suffix('%') {
        let percent: f64 = percent
            .trim()
            .parse()
            .map_err(|error| anyhow::anyhow!("{text:?} is not a percentage: {error}"))?;
        if !(0.0..=100.0).contains(&percent) {
            bail!("{text:?} is not between 0% and 100%");
        }
        return Ok((physical_memory_bytes()? as f64 * percent / 100.0) as usize);
    }
    let (digits, multiplier) = match text.char_indices().last() {
        Some((index, unit)) if unit.is_ascii_alphabetic() => {
            let multiplier: usize = match unit.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => bail!("{text:?} has an unknown unit {unit:?}; use K, M, G, T or %"),
            };
            (&text[..index], multiplier)
        }
        _ => (text, 1),
    };
    let value: usize = digits
        .trim()
        .parse()
        .map_err(|error| anyhow::anyhow!("{text:?} is not a memory size: {error}"))?;
    value
        .checked_mul(multiplier)
        .ok_or_else(|| anyhow::anyhow!("{text:?} is too large"))
}

/// The memory this process may use: MemTotal of /proc/meminfo, or the cgroup's limit when a
/// container has a smaller one (in a pod, a share of the host's memory could exceed the pod's).
fn physical_memory_bytes() -> anyhow::Result<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("failed to read /proc/meminfo for a percentage of memory")?;
    let kilobytes = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .context("/proc/meminfo has no MemTotal")?;
    let total = kilobytes.saturating_mul(1024);
    // cgroup v2, then v1; "max" or an absurd v1 value means no limit.
    let limit = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok()?.trim().parse::<usize>().ok());
    Ok(limit.map_or(total, |limit| limit.min(total)))
}

const KNOWN_KEYS: [&str; 20] = [
    "data_dir", "host", "query_port", "http_port", "rpc_port", "edit_log_port", "be_port", "be_http_port",
    "default_buckets", "checkpoint_interval", "compaction_interval_seconds", "compaction_min_rowsets",
    "stale_rowset_retention_seconds", "max_connections", "max_allowed_packet", "time_zone", "log_format", "demo",
    "streaming_load_max_mb", "storage_page_cache_limit",
];

impl Allin1Args {
    pub(crate) fn resolve(self) -> anyhow::Result<Allin1Config> {
        let file = match &self.config {
            Some(path) => read_config_file(path)?,
            None => BTreeMap::new(),
        };
        if let Some(unknown) = file.keys().find(|key| !KNOWN_KEYS.contains(&key.as_str())) {
            bail!("unknown config entry {unknown:?}; known entries: {}", KNOWN_KEYS.join(", "));
        }
        let config = Allin1Config {
            data_dir: pick(self.data_dir, &file, "data_dir", PathBuf::from("cairn-data"))?,
            host: pick(self.host, &file, "host", "127.0.0.1".to_string())?,
            query_port: pick(self.query_port, &file, "query_port", 9030)?,
            http_port: pick(self.http_port, &file, "http_port", 8030)?,
            rpc_port: pick(self.rpc_port, &file, "rpc_port", 9020)?,
            edit_log_port: pick(self.edit_log_port, &file, "edit_log_port", 9010)?,
            be_port: pick(self.be_port, &file, "be_port", 9060)?,
            be_http_port: pick(self.be_http_port, &file, "be_http_port", 8040)?,
            default_buckets: pick(self.default_buckets, &file, "default_buckets", 2)?,
            checkpoint_interval: pick(self.checkpoint_interval, &file, "checkpoint_interval", 10_000)?,
            compaction_interval_seconds: pick(self.compaction_interval_seconds, &file, "compaction_interval_seconds", 2)?,
            compaction_min_rowsets: pick(self.compaction_min_rowsets, &file, "compaction_min_rowsets", 5)?,
            stale_rowset_retention_seconds: pick(self.stale_rowset_retention_seconds, &file, "stale_rowset_retention_seconds", 300)?,
            max_connections: pick(self.max_connections, &file, "max_connections", 1024)?,
            max_allowed_packet: pick(self.max_allowed_packet, &file, "max_allowed_packet", 64 << 20)?,
            // The body is held in memory while it loads, so the default stays well under RAM.
            streaming_load_max_mb: pick(self.streaming_load_max_mb, &file, "streaming_load_max_mb", 4096)?,
            time_zone: pick(self.time_zone, &file, "time_zone", "UTC".to_string())?,
            storage_page_cache_limit: parse_memory_size(&pick(
                self.storage_page_cache_limit,
                &file,
                "storage_page_cache_limit",
                "20%".to_string(),
            )?)
            .context("storage_page_cache_limit")?,
            log_format: pick(self.log_format, &file, "log_format", "text".to_string())?,
            demo: match self.demo {
                Some(demo) => Some(demo),
                None => file.get("demo").cloned(),
            },
        };
        if config.default_buckets == 0 {
            bail!("default_buckets must be at least 1");
        }
        if config.compaction_min_rowsets < 2 {
            bail!("compaction_min_rowsets must be at least 2");
        }
        if !matches!(config.log_format.as_str(), "text" | "json") {
            bail!("log_format must be `text` or `json`, not {:?}", config.log_format);
        }
        if let Some(demo) = &config.demo {
            if demo != "sensors" {
                bail!("unknown demo {demo:?}; the demo is `sensors`");
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_memory_size;

    #[test]
    fn memory_sizes_take_units_and_percentages() {
        assert_eq!(parse_memory_size("0").ok(), Some(0));
        assert_eq!(parse_memory_size("1073741824").ok(), Some(1 << 30));
        assert_eq!(parse_memory_size("512M").ok(), Some(512 << 20));
        assert_eq!(parse_memory_size("4g").ok(), Some(4 << 30));
        let share = parse_memory_size("20%").expect("a percentage of memory");
        let whole = parse_memory_size("100%").expect("all of memory");
        assert!(share > 0 && share < whole, "20% = {share}, 100% = {whole}");
        for bad in ["", "12X", "-5M", "150%", "lots"] {
            assert!(parse_memory_size(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
