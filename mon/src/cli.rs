//! The command-line interface: one clap definition for help, man page and completions.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use mon_proto::agg::{Query, Where, DEFAULT_BUCKETS, DEFAULT_EXEC_TIMEOUT_S};

use mon_proto::client::verdict::OkExit;

use crate::client::{
    run_members, run_push, run_session, run_shell, AnswerOpts, GlobalArgs, GlobalOpts, PushArgs,
};
use crate::{cmd, server, sim, testbed};

/// MON — management overlay network: instant commands over on-demand overlays, signed
/// with your SSH key and checked against the slice's policy on every node.
///
/// Exit codes of client commands: 0 every targeted node answered and its operation
/// succeeded (exec: exit status 0, or one `--ok-exit` accepts); 1 some targeted node
/// missing, denied, timed out or failed (`--json` names each in `failed_nodes`,
/// `missing_nodes`, `denied_nodes`, with the reason); 2 local error; 3 denied at the entry
/// node; 4 refused by the entry node for a capacity or rate limit: retry later.
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
    /// Mean of a resource (the resources and their units are listed below).
    Avg {
        /// Resource.
        res: String,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// The N nodes with the largest values of a resource (listed below).
    Top {
        /// How many.
        n: u32,
        /// Resource.
        res: String,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Histogram of a resource (listed below).
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
        /// Exit statuses that count as success, e.g. 0,1 or 0-2,127; any other status, a
        /// signal or a timeout makes the node failed (exit code 1).
        #[arg(long, value_name = "LIST", default_value = "0")]
        ok_exit: OkExit,
        /// Write the commands' output as they wrote it even on a terminal. By default it is
        /// written as is when stdout is a pipe or file, and with control characters and
        /// bidirectional overrides escaped (`\u{1b}`) on a terminal; node names and reasons
        /// are always escaped.
        #[arg(long)]
        raw: bool,
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, value_name = "CMD ARGS")]
        argv: Vec<String>,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// An interactive session: the overlay is built once, then each command typed (or
    /// piped, one per line) runs over it as a follow-up Command signed by the session's
    /// command key. `help` lists the commands; `.json on|off`; Ctrl-C cancels the running
    /// command, not the session. Exit code: the highest of the commands' (1 if one had
    /// missing, denied or failed nodes or was cancelled; 2 if a line did not parse).
    Shell {
        /// The operation class the session is signed for: commands outside it are denied
        /// by every node (query: status queries; read: also `filter grep`; exec: also exec).
        #[arg(long, value_enum, default_value = "query")]
        class: ShellClass,
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
    /// Serve the web console on loopback (elsewhere only over TLS): fleet, queries with
    /// charts, topology (and exec, push when `--allow` names them), signed with your key as
    /// the CLI does. Prints a login URL with its secret token; the URL logs in once. Press
    /// Enter in its terminal (a line on its stdin) for a new URL, which replaces the last.
    Web {
        #[command(flatten)]
        args: crate::web::WebArgs,
        #[command(flatten)]
        g: GlobalArgs,
    },
    /// Slice policy tools for admins: check files, explain a decision, add a user.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Edit known_nodes: pin a node's key (add), remove a node, revoke a key.
    #[command(subcommand)]
    KnownNodes(cmd::known_nodes::KnownNodesCmd),
    /// Audit log tools for operators: show, verify, export; fleet reviews every node's log.
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
    /// Print the shell completion script for bash, zsh or fish (also elvish, powershell),
    /// e.g. `mon completions bash > ~/.local/share/bash-completion/completions/mon` (the
    /// Debian package installs them).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page mon(1) as roff (`mon man | man -l -`), or write every page with
    /// `--dir` (the Debian package installs them).
    Man(cmd::manual::ManArgs),
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
/// insecure build features (none in a normal build); the resources a query reads are listed
/// with their units (from `resources::BUILTINS`) below the root help and below each query that
/// reads one; in every (sub)command a flag given twice keeps its last value (list flags gather
/// their values).
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
    let resources = crate::resources::help_list();
    let mut c = Cli::command()
        .version(crate::insecure::version())
        .after_help(resources.clone());
    for name in ["avg", "top", "histo", "filter", "exec"] {
        c = c.mut_subcommand(name, |s| s.after_help(resources.clone()));
    }
    c = c.mut_subcommand("audit", |a| a.mut_subcommand("fleet", fleet_help));
    last_wins(c)
}

/// `mon audit fleet`: its `--principal` filters the records (a principal to claim goes before
/// the command), its `--slice` also names the slice whose records are reviewed.
fn fleet_help(c: clap::Command) -> clap::Command {
    c.mut_arg("principal", |a| {
        a.help("Only records of this principal (to claim a principal, give --principal before the command: mon --principal P audit fleet)")
    })
    .mut_arg("slice", |a| {
        a.help("Slice whose policy decides, and whose records are reviewed: a node returns only the session's slice's records [env: MON_SLICE; default: the entry server's only slice]")
    })
}

/// Parses the command line and runs it.
pub fn run() -> anyhow::Result<u8> {
    let argv = crate::server::conf::expand(std::env::args_os().collect())?;
    let matches = command().get_matches_from(argv);
    let Cli { global, command } = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    crate::logging::init(match &command {
        Command::Server { init: None, args } => args.log_format,
        _ => crate::logging::LogFormat::default(),
    });
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
    let q = |g: GlobalArgs, name: &str, query: Query| {
        run_session(&opts(g)?, name, vec![query], &AnswerOpts::default())
    };
    match command {
        Command::Count { g } => q(g, "count", Query::Count),
        Command::Depth { g } => q(g, "depth", Query::Depth),
        Command::Topology { dot, g } => {
            let answer = AnswerOpts {
                dot,
                ..AnswerOpts::default()
            };
            run_session(&opts(g)?, "topology", vec![Query::Topology], &answer)
        }
        Command::Avg { res, g } => q(g, "avg", Query::avg(res)?),
        Command::Top { n, res, g } => q(g, "top", Query::top(n, res)?),
        Command::Histo { res, buckets, g } => q(g, "histo", Query::histo(res, buckets)?),
        Command::Filter { args, g } => q(g, "filter", Query::parse_filter(&args)?),
        Command::Exec {
            cmd_timeout,
            where_,
            shell,
            ok_exit,
            raw,
            argv,
            g,
        } => {
            let query = exec_query(cmd_timeout, &where_, shell, argv)?;
            let answer = AnswerOpts {
                ok_exit,
                raw,
                ..AnswerOpts::default()
            };
            run_session(&opts(g)?, "exec", vec![query], &answer)
        }
        Command::Members { g } => run_members(&opts(g)?),
        Command::Shell { class, g } => run_shell(&opts(g)?, Some(class.namespace())),
        Command::Push { args, g } => run_push(&opts(g)?, args),
        Command::Web { args, g } => crate::web::run(&opts(g)?, args),
        Command::Policy(c) => cmd::policy::run(c),
        Command::KnownNodes(c) => cmd::known_nodes::run(c, top.known_nodes.as_deref()),
        Command::Audit(cmd::audit::AuditCmd::Fleet(a)) => cmd::audit::fleet::run(top, a),
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
        Command::Completions { shell } => cmd::manual::run_completions(shell),
        Command::Man(a) => cmd::manual::run_man(a),
    }
}

/// `mon shell --class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShellClass {
    /// Status queries (`mon-query@mon`).
    Query,
    /// Queries and `filter grep` (`mon-read@mon`).
    Read,
    /// Queries, reads and exec (`mon-exec@mon`).
    Exec,
}

impl ShellClass {
    /// The signed namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            ShellClass::Query => mon_keys::sshsig::NS_QUERY,
            ShellClass::Read => mon_keys::sshsig::NS_READ,
            ShellClass::Exec => mon_keys::sshsig::NS_EXEC,
        }
    }
}

#[cfg(test)]
mod tests;
