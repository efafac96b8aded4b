//! The command-line interface: one clap definition for help, man page and completions.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use mon_proto::agg::{Query, Where, DEFAULT_BUCKETS, DEFAULT_EXEC_TIMEOUT_S};

use crate::client::{run_members, run_push, run_session, GlobalArgs, GlobalOpts, PushArgs};
use crate::{cmd, server, sim, testbed};

/// MON — management overlay network: instant commands over on-demand overlays, signed
/// with your SSH key and checked against the slice's policy on every node.
///
/// Exit codes of client commands: 0 every node answered, 1 partial (missing or denied
/// nodes), 2 local error, 3 denied at the entry node.
///
/// The client's options may come before or after the command (`mon count --json`); a flag
/// given twice keeps its last value. Each is taken from the command line, else the
/// environment (MON_KEY, MON_SERVER, MON_SLICE, MON_KNOWN_NODES), else the client config
/// file ($XDG_CONFIG_HOME/mon/config or ~/.config/mon/config: `KEY VALUE` lines for key,
/// server, slice, known-nodes, overlay, timeout), else the default.
#[derive(Debug, Parser)]
#[command(
    name = "mon",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Number of nodes that answered.
    Count {
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Depth of the overlay.
    Depth {
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Edges of the overlay.
    Topology {
        /// Print Graphviz dot.
        #[arg(long)]
        dot: bool,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Mean of a resource (load load5 load15 cpu mem disk procs uptime or operator-defined).
    Avg {
        /// Resource.
        res: String,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// The N nodes with the largest values of a resource.
    Top {
        /// How many.
        n: u32,
        /// Resource.
        res: String,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Histogram of a resource.
    Histo {
        /// Resource.
        res: String,
        /// Number of equal-width buckets.
        #[arg(long, default_value_t = DEFAULT_BUCKETS)]
        buckets: u32,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Nodes where RES OP VALUE holds (OP, any case: G L GE LE EQ NE > < >= <= == !=), or
    /// `filter grep WORD FILE`: nodes whose FILE contains WORD.
    Filter {
        /// RES OP VALUE, or grep WORD FILE.
        #[arg(num_args = 3, value_names = ["RES|grep", "OP|WORD", "VALUE|FILE"], allow_negative_numbers = true)]
        args: Vec<String>,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Run a command on every node; identical outcomes are grouped. Everything from the
    /// command's first word on is the command (`mon exec uname -r`); put `--` before it
    /// when it starts with `-`.
    Exec {
        /// Per-node timeout, seconds.
        #[arg(long, default_value_t = DEFAULT_EXEC_TIMEOUT_S)]
        cmd_timeout: u32,
        /// Run only where RES OP VALUE holds (given twice: the last one).
        #[arg(long = "where", num_args = 3, value_names = ["RES", "OP", "VALUE"], allow_hyphen_values = true)]
        where_: Vec<String>,
        /// Run through /bin/sh -c (default: no shell).
        #[arg(long)]
        shell: bool,
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, value_name = "CMD ARGS")]
        argv: Vec<String>,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// The entry server's partial view: name, address, age, RTT.
    Members {
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Push a file to every node (multi-parent DAG; `--max-parents` defaults to 3, 1 makes
    /// a chain/tree); lands atomically at DEST where the policy's push-dirs allow it.
    Push {
        #[command(flatten)]
        args: PushArgs,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Slice policy tools for admins: check files, explain a decision.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Audit log tools for operators: show, verify, export.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCmd),
    /// User key tools: show which key MON would sign with.
    #[command(subcommand)]
    Key(cmd::key::KeyCmd),
    /// Run the MON server (`mon server init` creates its node key first).
    #[command(args_conflicts_with_subcommands = true, args_override_self = true)]
    Server {
        #[command(subcommand)]
        init: Option<ServerSub>,
        #[command(flatten)]
        args: server::ServerArgs,
    },
    /// Start N real servers on 127.0.0.2… with keys and a policy, then run a command.
    Testbed(testbed::TestbedArgs),
    /// Simulate N servers under virtual time (deterministic): coverage and timing of
    /// sessions, as the paper's Table 1.
    Sim(sim::SimArgs),
}

#[derive(Debug, Subcommand)]
pub enum ServerSub {
    /// Create this node's key and print its known_nodes line.
    Init(cmd::server_init::InitArgs),
}

/// `exec`'s query from its typed arguments (`--where`'s three words parsed as such).
fn exec_query(
    cmd_timeout: u32,
    where_: &[String],
    shell: bool,
    argv: Vec<String>,
) -> anyhow::Result<Query> {
    // `--where` given twice: the last one counts, like any repeated flag.
    let where_ = match where_.len().checked_sub(3).and_then(|i| where_.get(i..)) {
        Some([res, op, value]) => Some(Where::parse(res, op, value)?),
        _ => None,
    };
    Ok(Query::exec(argv, shell, cmd_timeout, where_)?)
}

/// The one clap definition of `mon`, with its run-time settings: the version names the
/// insecure build features (none in a normal build), and in every (sub)command a flag given
/// twice keeps its last value (list flags gather their values).
pub fn command() -> clap::Command {
    fn last_wins(c: clap::Command) -> clap::Command {
        let subs: Vec<String> = c
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        subs.iter().fold(c.args_override_self(true), |c, s| {
            c.mut_subcommand(s, last_wins)
        })
    }
    last_wins(Cli::command().version(crate::insecure::version()))
}

/// Parses the command line and runs it.
pub fn run() -> anyhow::Result<u8> {
    let argv = crate::server::conf::expand(std::env::args_os().collect())?;
    let matches = command().get_matches_from(argv);
    let Cli { global, command } = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if mon_keys::crypto::SIM_CRYPTO && !matches!(command, Command::Sim(_)) {
        anyhow::bail!(
            "this mon was built with the `sim-crypto` feature (insecure stand-ins for Ed25519 \
             and X25519, for `mon sim` only); build without it for anything else"
        );
    }
    run_command(global, command)
}

/// Runs one command: a query session (the query checked before the options are resolved),
/// or the command's own `run`. `top`: the client options given before the command.
fn run_command(top: GlobalArgs, command: Command) -> anyhow::Result<u8> {
    let opts = |g: GlobalArgs| -> anyhow::Result<GlobalOpts> { top.clone().then(g).resolve() };
    let q =
        |g: GlobalArgs, name: &str, query: Query| run_session(&opts(g)?, name, vec![query], false);
    match command {
        Command::Count { g } => q(g, "count", Query::Count),
        Command::Depth { g } => q(g, "depth", Query::Depth),
        Command::Topology { dot, g } => {
            run_session(&opts(g)?, "topology", vec![Query::Topology], dot)
        }
        Command::Avg { res, g } => q(g, "avg", Query::avg(res)?),
        Command::Top { n, res, g } => q(g, "top", Query::top(n, res)?),
        Command::Histo { res, buckets, g } => q(g, "histo", Query::histo(res, buckets)?),
        Command::Filter { args, g } => q(g, "filter", Query::parse_filter(&args)?),
        Command::Exec {
            cmd_timeout,
            where_,
            shell,
            argv,
            g,
        } => q(g, "exec", exec_query(cmd_timeout, &where_, shell, argv)?),
        Command::Members { g } => run_members(&opts(g)?),
        Command::Push { args, g } => run_push(&opts(g)?, args),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Audit(c) => cmd::audit::run(c),
        Command::Key(c) => cmd::key::run(c, top.layered()?),
        Command::Server {
            init: Some(ServerSub::Init(a)),
            ..
        } => cmd::server_init::run(a),
        Command::Server { init: None, args } => {
            crate::insecure::check_server_start()?;
            server::run(args)
        }
        Command::Testbed(a) => testbed::run(a),
        Command::Sim(a) => sim::run(a),
    }
}

#[cfg(test)]
mod tests;
