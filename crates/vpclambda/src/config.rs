//! The daemon's configuration: command-line flags, each also settable as
//! `VPCLAMBDA_<FLAG>`, over a TOML file given with `--config`, over built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use control::eni::EniMode;
use control::Account;
use dataplane::Uplink;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:4566";
pub const DEFAULT_DATA_DIR: &str = ".vpclambda";
pub const DEFAULT_REGION: &str = "us-east-1";
/// The managed runtimes in the source tree this binary was built from, where
/// `scripts/deps` installs them: right for `cargo run`; an installed binary is given
/// `--runtimes-dir`.
pub const DEFAULT_RUNTIMES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../runtimes");

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on (all services share it).
    #[arg(long, env = "VPCLAMBDA_LISTEN")]
    listen: Option<SocketAddr>,
    /// Where the store, function code and the admin socket live.
    #[arg(long, env = "VPCLAMBDA_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Region for requests that carry none (unsigned admin use).
    #[arg(long, env = "VPCLAMBDA_REGION")]
    region: Option<String>,
    /// How far a request's signing time may lie from the clock, in seconds.
    #[arg(long, env = "VPCLAMBDA_CLOCK_SKEW")]
    clock_skew: Option<u64>,
    /// Seconds an idle execution environment is kept warm before it is destroyed.
    #[arg(long, env = "VPCLAMBDA_ENV_IDLE_TIMEOUT")]
    env_idle_timeout: Option<u64>,
    /// Seconds before an Event invocation's first retry (the second waits twice as long).
    #[arg(long, env = "VPCLAMBDA_ASYNC_RETRY_DELAY")]
    async_retry_delay: Option<u64>,
    /// Concurrent executions per account and region.
    #[arg(long, env = "VPCLAMBDA_CONCURRENCY_LIMIT")]
    concurrency_limit: Option<u32>,
    /// Execution environments created at once, host-wide (default: one per CPU the daemon
    /// may use); beyond it, cold starts wait their turn.
    #[arg(long, env = "VPCLAMBDA_MAX_COLD_STARTS")]
    max_cold_starts: Option<usize>,
    /// Milliseconds a synchronous Invoke may wait for a busy environment of its function
    /// while the host's CPUs are saturated, before it is refused with a 429.
    #[arg(long, env = "VPCLAMBDA_MAX_QUEUE_WAIT")]
    max_queue_wait: Option<u64>,
    /// Where the managed runtimes (Python's awslambdaric, the Node.js runtime) are installed.
    #[arg(long, env = "VPCLAMBDA_RUNTIMES_DIR")]
    runtimes_dir: Option<PathBuf>,
    /// ENI model: `legacy` (the seed's: per-function ENIs made as the function scales out)
    /// or `hyperplane` (shared per subnet and security-group set, made at create/update).
    #[arg(long, env = "VPCLAMBDA_ENI_MODE")]
    eni_mode: Option<EniMode>,
    /// Seconds an unused Lambda ENI lingers before it is deleted (AWS: about 20 minutes).
    #[arg(long, env = "VPCLAMBDA_ENI_RECLAIM_DELAY")]
    eni_reclaim_delay: Option<u64>,
    /// ENIs an account may have per region; scale-out past it fails with ENILimitReachedException.
    #[arg(long, env = "VPCLAMBDA_ENI_QUOTA")]
    eni_quota: Option<u32>,
    /// ENIs Lambda may create at once before EC2's rate limit applies.
    #[arg(long, env = "VPCLAMBDA_ENI_CREATE_BURST")]
    eni_create_burst: Option<u32>,
    /// ENIs per second Lambda may create after the burst; beyond it, EC2ThrottledException.
    #[arg(long, env = "VPCLAMBDA_ENI_CREATE_RATE")]
    eni_create_rate: Option<f64>,
    /// Milliseconds to wait before attaching an environment to an ENI, to reproduce the
    /// seed's ENI start-up penalty when testing timeouts (default 0).
    #[arg(long, env = "VPCLAMBDA_ENI_ATTACH_DELAY")]
    eni_attach_delay: Option<u64>,
    /// Name of this daemon's cgroup parent (`vl-<NAME>` under each controller); by default
    /// derived from the data dir, so daemons with different data dirs never collide.
    #[arg(long, env = "VPCLAMBDA_CGROUP_PARENT")]
    cgroup_parent: Option<String>,
    /// Where the simulated internet (`vl-pub`) leads: `none` (sealed; nothing is created in
    /// the daemon's namespace) or `host` (opt-in: masqueraded to this host's network, so
    /// functions reach the real internet; turns on IPv4 forwarding here).
    #[arg(long, env = "VPCLAMBDA_UPLINK")]
    uplink: Option<Uplink>,
    /// Whether AWS's endpoints are served on the simulated internet and inside VPCs (HTTPS
    /// under AWS's names, the daemon's CA trusted by every environment); `false` leaves
    /// function code without them (default `true`).
    #[arg(long, env = "VPCLAMBDA_AWS_ENDPOINTS")]
    aws_endpoints: Option<bool>,
    /// A TOML file with any of these settings and `[[accounts]]` access keys.
    #[arg(long, env = "VPCLAMBDA_CONFIG")]
    config: Option<PathBuf>,
}

/// The `--config` file. Keys are the flags' names with `_` for `-`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    clock_skew: Option<u64>,
    env_idle_timeout: Option<u64>,
    async_retry_delay: Option<u64>,
    concurrency_limit: Option<u32>,
    max_cold_starts: Option<usize>,
    max_queue_wait: Option<u64>,
    runtimes_dir: Option<PathBuf>,
    cgroup_parent: Option<String>,
    eni_mode: Option<EniMode>,
    eni_reclaim_delay: Option<u64>,
    eni_quota: Option<u32>,
    eni_create_burst: Option<u32>,
    eni_create_rate: Option<f64>,
    eni_attach_delay: Option<u64>,
    uplink: Option<String>,
    aws_endpoints: Option<bool>,
    #[serde(default)]
    accounts: Vec<FileAccount>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileAccount {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
}

/// Everything the daemon runs with, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub clock_skew: Duration,
    pub accounts: Vec<Account>,
    pub env_idle_timeout: Duration,
    pub async_retry_delay: Duration,
    pub concurrency_limit: u32,
    pub max_cold_starts: usize,
    pub max_queue_wait: Duration,
    pub runtimes_dir: PathBuf,
    pub cgroup_parent: Option<String>,
    pub eni_mode: EniMode,
    pub eni_reclaim_delay: Duration,
    pub eni_quota: u32,
    pub eni_create_burst: u32,
    pub eni_create_rate: f64,
    pub eni_attach_delay: Duration,
    pub uplink: Uplink,
    pub aws_endpoints: bool,
}

impl Config {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let accounts = if file.accounts.is_empty() {
            vec![Account::default_test()]
        } else {
            file.accounts
                .into_iter()
                .map(|a| Account {
                    access_key_id: a.access_key_id,
                    secret_access_key: a.secret_access_key,
                    account_id: a.account_id,
                })
                .collect()
        };
        let uplink = match (args.uplink, file.uplink) {
            (Some(uplink), _) => uplink,
            (None, Some(text)) => text
                .parse()
                .map_err(|e: String| anyhow::anyhow!("uplink in the config file: {e}"))?,
            (None, None) => Uplink::None,
        };
        let config = Config {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().unwrap_or_else(|_| unreachable!())),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            region: args
                .region
                .or(file.region)
                .unwrap_or_else(|| DEFAULT_REGION.into()),
            clock_skew: Duration::from_secs(args.clock_skew.or(file.clock_skew).unwrap_or(300)),
            accounts,
            env_idle_timeout: Duration::from_secs(
                args.env_idle_timeout
                    .or(file.env_idle_timeout)
                    .unwrap_or(600),
            ),
            async_retry_delay: Duration::from_secs(
                args.async_retry_delay
                    .or(file.async_retry_delay)
                    .unwrap_or(60),
            ),
            concurrency_limit: args
                .concurrency_limit
                .or(file.concurrency_limit)
                .unwrap_or(1000),
            max_cold_starts: args
                .max_cold_starts
                .or(file.max_cold_starts)
                .unwrap_or_else(crate::invoke::cpus),
            max_queue_wait: Duration::from_millis(
                args.max_queue_wait.or(file.max_queue_wait).unwrap_or(20),
            ),
            runtimes_dir: args
                .runtimes_dir
                .or(file.runtimes_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_RUNTIMES_DIR)),
            cgroup_parent: args.cgroup_parent.or(file.cgroup_parent),
            eni_mode: args.eni_mode.or(file.eni_mode).unwrap_or(EniMode::Legacy),
            eni_reclaim_delay: Duration::from_secs(
                args.eni_reclaim_delay
                    .or(file.eni_reclaim_delay)
                    .unwrap_or(20 * 60),
            ),
            eni_quota: args.eni_quota.or(file.eni_quota).unwrap_or(5000),
            eni_create_burst: args
                .eni_create_burst
                .or(file.eni_create_burst)
                .unwrap_or(100),
            eni_create_rate: args
                .eni_create_rate
                .or(file.eni_create_rate)
                .unwrap_or(20.0),
            eni_attach_delay: Duration::from_millis(
                args.eni_attach_delay.or(file.eni_attach_delay).unwrap_or(0),
            ),
            uplink,
            aws_endpoints: args.aws_endpoints.or(file.aws_endpoints).unwrap_or(true),
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses settings that would be unsafe or cannot work.
    fn check(&self) -> anyhow::Result<()> {
        if let Some(name) = &self.cgroup_parent {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                bail!("--cgroup-parent must be 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'");
            }
        }
        if self.max_cold_starts == 0 {
            bail!("--max-cold-starts must be 1 or more");
        }
        if !self.eni_create_rate.is_finite() || self.eni_create_rate < 0.0 {
            bail!("--eni-create-rate must be a number of ENIs per second, 0 or more");
        }
        if !control::regions::is_known(&self.region) {
            bail!("--region {} is not an AWS region name", self.region);
        }
        if !self.listen.ip().is_loopback() && self.accounts.iter().any(Account::is_default_key) {
            bail!(
                "refusing to listen on {} with the well-known default key 'test': anyone who can \
                 reach that address could use it. Configure your own keys in a TOML file given \
                 with --config, e.g.\n\n  [[accounts]]\n  access_key_id = \"AKIA...\"\n  \
                 secret_access_key = \"...\"\n  account_id = \"123456789012\"\n",
                self.listen
            );
        }
        Ok(())
    }
}

fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_and_test_key() {
        let c = Config::resolve(ServeArgs::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.accounts, vec![Account::default_test()]);
        assert_eq!(c.clock_skew, Duration::from_secs(300));
        assert_eq!(
            c.uplink,
            Uplink::None,
            "the simulated internet is sealed by default"
        );
    }

    #[test]
    fn refuses_default_key_off_loopback() {
        let args = ServeArgs {
            listen: Some("0.0.0.0:4566".parse().unwrap()),
            ..ServeArgs::default()
        };
        let err = Config::resolve(args).unwrap_err().to_string();
        assert!(err.contains("refusing to listen"), "{err}");
    }

    #[test]
    fn file_accounts_allow_other_addresses_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:5000\"\nregion = \"eu-west-1\"\n[[accounts]]\naccess_key_id = \"AKIAONE\"\nsecret_access_key = \"s1\"\naccount_id = \"111111111111\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            region: Some("us-west-2".into()),
            ..ServeArgs::default()
        };
        let c = Config::resolve(args).unwrap();
        assert_eq!(c.listen.port(), 5000);
        assert_eq!(c.region, "us-west-2");
        assert_eq!(c.accounts[0].account_id, "111111111111");
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        assert!(Config::resolve(args).is_err());
    }
}
