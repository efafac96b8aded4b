//! Node-local resources read by `avg`, `top`, `histo`, `filter` and `exec --where`.
//!
//! Built in:
//! - `load`, `load5`, `load15`: load average over 1, 5, 15 minutes;
//! - `cpu`: CPU usage in percent (all CPUs), from `/proc/stat` deltas: against the previous
//!   reading when it is 0.2 to 5 s old, otherwise over a fresh 250 ms sample;
//! - `mem`: available memory, MiB;
//! - `disk`: free space on `/` for unprivileged users, GiB;
//! - `procs`: number of processes;
//! - `uptime`: seconds since boot.
//!
//! Each with its unit in [`BUILTINS`], which `--help` and the client's rendering read.
//!
//! Operator-defined (`mon server --resource NAME=COMMAND`): `COMMAND` runs as `/bin/sh -c
//! COMMAND` (stdin null, its process group killed at the timeout, default 5 s); it must exit 0
//! and print one number (surrounding whitespace ignored). Names are 1 to 64 characters
//! `[a-z0-9_]`; a name may not shadow a built-in resource nor be `grep` (which `filter grep`
//! takes).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mon_proto::agg::Unit;

use crate::exec::{self, ExecError};

/// A built-in resource: its name, the unit of its values and what it measures. This list is
/// the one home of a built-in: `--help` lists it and the client writes values in its unit.
#[derive(Debug)]
pub struct Builtin {
    /// Name, as queries give it.
    pub name: &'static str,
    /// Unit of its values.
    pub unit: Unit,
    /// What it measures, for `--help`.
    pub what: &'static str,
}

/// The built-in resources.
pub const BUILTINS: &[Builtin] = &[
    builtin("load", Unit::Load, "load average over 1 minute"),
    builtin("load5", Unit::Load, "load average over 5 minutes"),
    builtin("load15", Unit::Load, "load average over 15 minutes"),
    builtin("cpu", Unit::Percent, "CPU usage of all CPUs"),
    builtin("mem", Unit::MiB, "available memory"),
    builtin("disk", Unit::GiB, "free space on / for unprivileged users"),
    builtin("procs", Unit::Count, "number of processes"),
    builtin("uptime", Unit::Seconds, "time since boot"),
];

const fn builtin(name: &'static str, unit: Unit, what: &'static str) -> Builtin {
    Builtin { name, unit, what }
}

/// Whether `name` is a built-in resource.
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.iter().any(|b| b.name == name)
}

/// The unit of a resource's values: the built-in's, else [`Unit::Number`] (an operator-defined
/// resource prints a plain number).
pub fn unit_of(name: &str) -> Unit {
    BUILTINS
        .iter()
        .find(|b| b.name == name)
        .map_or(Unit::Number, |b| b.unit)
}

/// The built-in resources for `--help`, one a line: name, unit, what it measures.
pub fn help_list() -> String {
    let w = BUILTINS.iter().map(|b| b.name.len()).max().unwrap_or(0);
    let u = BUILTINS
        .iter()
        .map(|b| b.unit.name().len())
        .max()
        .unwrap_or(0);
    let lines: Vec<String> = BUILTINS
        .iter()
        .map(|b| format!("  {:<w$}  {:<u$}  {}", b.name, b.unit.name(), b.what))
        .collect();
    format!(
        "Resources (name, unit, what; operator-defined ones, `mon server --resource`, are plain \
         numbers):\n{}",
        lines.join("\n")
    )
}

/// Default timeout of an operator-defined resource command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Output kept from an operator command (more is an error: one number is expected).
const OUTPUT_CAP: usize = 4096;

/// Accepted age of the previous `/proc/stat` reading for a `cpu` delta.
const CPU_MIN_AGE: Duration = Duration::from_millis(200);
const CPU_MAX_AGE: Duration = Duration::from_secs(5);
/// Sampling interval when no usable previous reading exists.
const CPU_SAMPLE: Duration = Duration::from_millis(250);

/// A resource definition or read that failed.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// Not `NAME=COMMAND`.
    #[error("--resource '{0}': expected NAME=COMMAND, e.g. --resource 'conns=ss -t | wc -l'")]
    BadDefinition(String),
    /// Bad name.
    #[error("--resource: invalid name '{0}': use 1 to 64 characters a-z 0-9 _")]
    BadName(String),
    /// Name of a built-in resource.
    #[error("--resource: '{0}' is a built-in resource; choose another name")]
    ShadowsBuiltin(String),
    /// Reserved name.
    #[error("--resource: 'grep' is reserved for filter grep; choose another name")]
    Reserved,
    /// Defined twice.
    #[error("--resource: '{0}' is defined twice")]
    Duplicate(String),
    /// Empty command.
    #[error("--resource '{0}': the command is empty")]
    EmptyCommand(String),
    /// Not a resource of this node.
    #[error("unknown resource '{name}'; this node knows: {known}")]
    Unknown {
        /// Name asked for.
        name: String,
        /// Known names, comma-separated.
        known: String,
    },
    /// The command ran past the timeout.
    #[error("resource '{name}': the command did not finish within {secs} s and was killed")]
    Timeout {
        /// Resource.
        name: String,
        /// Timeout.
        secs: u64,
    },
    /// The command failed.
    #[error("resource '{name}': the command {status}{stderr}")]
    CommandFailed {
        /// Resource.
        name: String,
        /// "exited with 1" / "was killed by signal 9".
        status: String,
        /// ": first line of stderr", or empty.
        stderr: String,
    },
    /// The output is not one number.
    #[error("resource '{name}': the command printed '{output}', not a number")]
    NotANumber {
        /// Resource.
        name: String,
        /// Output (cut).
        output: String,
    },
    /// The command could not start.
    #[error("resource '{name}': {source}")]
    Run {
        /// Resource.
        name: String,
        /// Why.
        source: ExecError,
    },
    /// A system source could not be read.
    #[error("resource '{name}': cannot read {what}: {detail}")]
    Read {
        /// Resource.
        name: String,
        /// Source, e.g. "/proc/stat".
        what: &'static str,
        /// Why.
        detail: String,
    },
}

/// CPU time counters from the first line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuTimes {
    total: u64,
    idle: u64,
}

/// The resources of this node.
#[derive(Debug)]
pub struct Resources {
    defs: BTreeMap<String, String>,
    timeout: Duration,
    last_cpu: Mutex<Option<(Instant, CpuTimes)>>,
}

fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Parses the `cpu` line of `/proc/stat`.
fn parse_proc_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    if f.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest is already counted in user).
    let total = f.iter().take(8).fold(0u64, |a, b| a.saturating_add(*b));
    let idle = f[3].saturating_add(f.get(4).copied().unwrap_or(0));
    Some(CpuTimes { total, idle })
}

fn cpu_percent(a: CpuTimes, b: CpuTimes) -> f64 {
    let dt = b.total.saturating_sub(a.total);
    let di = b.idle.saturating_sub(a.idle);
    if dt == 0 {
        return 0.0;
    }
    100.0 * (dt.saturating_sub(di)) as f64 / dt as f64
}

/// Parses `/proc/loadavg`.
fn parse_loadavg(text: &str, field: usize) -> Option<f64> {
    text.split_whitespace().nth(field)?.parse().ok()
}

/// Free bytes on `path` for unprivileged users (statvfs).
#[allow(unsafe_code)]
fn statvfs_free(path: &str) -> std::io::Result<u64> {
    let c =
        CString::new(path).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `statvfs` is a plain C struct; all-zero is valid and is overwritten on success.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is a live, writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

impl Resources {
    /// Parses one `--resource NAME=COMMAND`.
    pub fn parse_definition(s: &str) -> Result<(String, String), ResourceError> {
        let (name, cmd) = s
            .split_once('=')
            .ok_or_else(|| ResourceError::BadDefinition(cut(s, 200)))?;
        Ok((name.to_string(), cmd.to_string()))
    }

    /// Builds the resources from operator definitions `(name, shell command)`, checking them.
    pub fn new(defs: Vec<(String, String)>, timeout: Duration) -> Result<Self, ResourceError> {
        let mut map = BTreeMap::new();
        for (name, cmd) in defs {
            if mon_proto::agg::check_resource_name(&name).is_err() {
                return Err(ResourceError::BadName(cut(&name, 80)));
            }
            if is_builtin(&name) {
                return Err(ResourceError::ShadowsBuiltin(name));
            }
            if name == "grep" {
                return Err(ResourceError::Reserved);
            }
            if cmd.trim().is_empty() {
                return Err(ResourceError::EmptyCommand(name));
            }
            if map.contains_key(&name) {
                return Err(ResourceError::Duplicate(name));
            }
            map.insert(name, cmd);
        }
        Ok(Resources {
            defs: map,
            timeout,
            last_cpu: Mutex::new(None),
        })
    }

    /// All resource names: built-ins, then operator-defined ones (sorted).
    pub fn names(&self) -> Vec<String> {
        BUILTINS
            .iter()
            .map(|b| b.name.to_string())
            .chain(self.defs.keys().cloned())
            .collect()
    }

    /// Reads one resource.
    pub async fn read(&self, name: &str) -> Result<f64, ResourceError> {
        if let Some(cmd) = self.defs.get(name) {
            return self.read_command(name, cmd).await;
        }
        let read_err = |what: &'static str, detail: String| read_err(name, what, detail);
        match name {
            "load" => read_proc_field(name, "/proc/loadavg", 0).await,
            "load5" => read_proc_field(name, "/proc/loadavg", 1).await,
            "load15" => read_proc_field(name, "/proc/loadavg", 2).await,
            "cpu" => self.read_cpu().await,
            "mem" => read_mem(name).await,
            "disk" => {
                let free = tokio::task::spawn_blocking(|| statvfs_free("/"))
                    .await
                    .map_err(|e| read_err("statvfs(/)", e.to_string()))?
                    .map_err(|e| read_err("statvfs(/)", e.to_string()))?;
                Ok(free as f64 / (1024.0 * 1024.0 * 1024.0))
            }
            "procs" => tokio::task::spawn_blocking(count_procs)
                .await
                .map_err(|e| read_err("/proc", e.to_string()))?
                .map_err(|e| read_err("/proc", e.to_string())),
            "uptime" => read_proc_field(name, "/proc/uptime", 0).await,
            _ => Err(ResourceError::Unknown {
                name: cut(name, 80),
                known: self.names().join(", "),
            }),
        }
    }

    async fn read_cpu(&self) -> Result<f64, ResourceError> {
        let sample = || async {
            let text = tokio::fs::read_to_string("/proc/stat")
                .await
                .map_err(|e| e.to_string())?;
            parse_proc_stat(&text).ok_or_else(|| "unexpected format".to_string())
        };
        let err = |detail| ResourceError::Read {
            name: "cpu".into(),
            what: "/proc/stat",
            detail,
        };
        let now = sample().await.map_err(err)?;
        let at = Instant::now();
        let base = self.usable_last_sample(at, &now);
        let (first, second, second_at) = match base {
            Some(b) => (b, now, at),
            None => {
                tokio::time::sleep(CPU_SAMPLE).await;
                let later = sample().await.map_err(err)?;
                (now, later, Instant::now())
            }
        };
        if let Ok(mut g) = self.last_cpu.lock() {
            *g = Some((second_at, second));
        }
        Ok(cpu_percent(first, second))
    }

    /// The last sample when it is old enough to measure against (and not too old) and the
    /// counters went forward since.
    fn usable_last_sample(&self, at: Instant, now: &CpuTimes) -> Option<CpuTimes> {
        let prev = self.last_cpu.lock().map(|g| *g).unwrap_or(None);
        match prev {
            Some((t, times))
                if (CPU_MIN_AGE..=CPU_MAX_AGE).contains(&at.duration_since(t))
                    && times.total < now.total =>
            {
                Some(times)
            }
            _ => None,
        }
    }

    async fn read_command(&self, name: &str, cmd: &str) -> Result<f64, ResourceError> {
        let outcome = exec::run(&[cmd.to_string()], true, self.timeout, None, OUTPUT_CAP)
            .await
            .map_err(|source| ResourceError::Run {
                name: name.to_string(),
                source,
            })?;
        if outcome.timed_out {
            return Err(ResourceError::Timeout {
                name: name.to_string(),
                secs: self.timeout.as_secs(),
            });
        }
        if outcome.exit != Some(0) {
            return Err(command_failed(name, &outcome));
        }
        let text = outcome.stdout.trim();
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && !outcome.truncated => Ok(v),
            _ => Err(ResourceError::NotANumber {
                name: name.to_string(),
                output: cut(text, 100),
            }),
        }
    }
}

/// A resource command that did not exit 0: how it ended and the first line of its stderr.
fn command_failed(name: &str, outcome: &mon_proto::agg::ExecOutcome) -> ResourceError {
    let status = match (outcome.exit, outcome.signal) {
        (Some(c), _) => format!("exited with {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        (None, None) => "ended without a status".to_string(),
    };
    let first = outcome.stderr.lines().next().unwrap_or("").trim();
    let stderr = if first.is_empty() {
        String::new()
    } else {
        format!(": {}", cut(first, 200))
    };
    ResourceError::CommandFailed {
        name: name.to_string(),
        status,
        stderr,
    }
}

fn read_err(name: &str, what: &'static str, detail: String) -> ResourceError {
    ResourceError::Read {
        name: name.to_string(),
        what,
        detail,
    }
}

/// The `field`th number of a `/proc` file of numbers on one line (loadavg, uptime).
async fn read_proc_field(
    name: &str,
    path: &'static str,
    field: usize,
) -> Result<f64, ResourceError> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| read_err(name, path, e.to_string()))?;
    parse_loadavg(&text, field).ok_or_else(|| read_err(name, path, "unexpected format".into()))
}

/// Available memory in MiB.
async fn read_mem(name: &str) -> Result<f64, ResourceError> {
    let bytes = tokio::task::spawn_blocking(|| {
        let mut sys = sysinfo::System::new();
        sys.refresh_memory();
        sys.available_memory()
    })
    .await
    .map_err(|e| read_err(name, "memory information", e.to_string()))?;
    if bytes == 0 {
        return Err(read_err(
            name,
            "memory information",
            "no value reported".into(),
        ));
    }
    Ok(bytes as f64 / (1024.0 * 1024.0))
}

/// Number of processes: the numeric entries of `/proc`.
fn count_procs() -> std::io::Result<f64> {
    let mut n = 0u64;
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        {
            n += 1;
        }
    }
    Ok(n as f64)
}

#[cfg(test)]
mod tests;
