//! The narrowing `mon policy add-user` writes to `mon_policy`: one flag per option, named
//! like it, written in the order `mon_policy` checks them.

use mon_policy::OPTION_NAMES;

/// The `mon_policy` options `add-user` can write, one flag each (named like the option).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    next_help_heading = "Narrowing (one mon_policy line for PRINCIPAL; see docs/operations.md)"
)]
pub struct Narrowing {
    /// Client addresses allowed at the entry node.
    #[arg(long, value_name = "CIDR,…")]
    pub from: Option<String>,
    /// Node name patterns where operations may run.
    #[arg(long, value_name = "PATTERN,…")]
    pub nodes: Option<String>,
    /// Exec only: a glob over the command line.
    #[arg(long, value_name = "PATTERN")]
    pub command: Option<String>,
    /// Grep only: files or directories it may read.
    #[arg(long, value_name = "PATH,…")]
    pub grep_paths: Option<String>,
    /// Push only: directories a push may land below.
    #[arg(long, value_name = "DIR,…")]
    pub push_dirs: Option<String>,
    /// Largest overlay fanout a session may ask for.
    #[arg(long, value_name = "N")]
    pub max_fanout: Option<u32>,
    /// Longest session lifetime.
    #[arg(long, value_name = "SECONDS")]
    pub max_lifetime: Option<u64>,
    /// The user exec, grep and push run as on a root server.
    #[arg(long, value_name = "USER")]
    pub run_as: Option<String>,
    /// A push may land setuid, setgid or sticky bits.
    #[arg(long)]
    pub allow_setid: bool,
}

/// How an option's value is written.
enum Value {
    Quoted(String),
    Number(u64),
    Flag,
}

impl Narrowing {
    /// The value of the `mon_policy` option `name` (one of [`OPTION_NAMES`]), if given.
    fn value(&self, name: &str) -> Option<Value> {
        let q = |v: &Option<String>| v.clone().map(Value::Quoted);
        match name {
            "from" => q(&self.from),
            "nodes" => q(&self.nodes),
            "command" => q(&self.command),
            "grep-paths" => q(&self.grep_paths),
            "push-dirs" => q(&self.push_dirs),
            "max-fanout" => self.max_fanout.map(|n| Value::Number(n.into())),
            "max-lifetime" => self.max_lifetime.map(Value::Number),
            "run-as" => q(&self.run_as),
            "allow-setid" => self.allow_setid.then_some(Value::Flag),
            _ => None,
        }
    }

    /// The options given, in the order `mon_policy` checks them: `name="value",…`.
    pub(super) fn options(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for name in OPTION_NAMES {
            match self.value(name) {
                Some(Value::Quoted(v)) => out.push(format!("{name}={}", quoted(name, &v)?)),
                Some(Value::Number(n)) => out.push(format!("{name}={n}")),
                Some(Value::Flag) => out.push(name.to_string()),
                None => {}
            }
        }
        Ok(out)
    }
}

/// `"value"` with `\"` for quotes; refuses what the option grammar cannot carry.
pub(super) fn quoted(name: &str, v: &str) -> Result<String, String> {
    if v.chars().any(char::is_control) {
        return Err(format!(
            "--{name}: control characters (a newline?) are not allowed"
        ));
    }
    if v.ends_with('\\') {
        return Err(format!("--{name}: a value may not end with a backslash"));
    }
    Ok(format!("\"{}\"", v.replace('"', "\\\"")))
}
