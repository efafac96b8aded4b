//! `mon shell`: one interactive session ([`super::interactive`]), one command per line. On a
//! terminal: line editing and history (rustyline; history in `~/.mon/shell_history`), Ctrl-C
//! cancels the running command (the entry answers with what it has), Ctrl-C at the prompt
//! clears the line, Ctrl-D or `quit` ends. From a pipe: one command per line, all over the
//! one session. Lines are split into words as a POSIX shell does (`shlex`): quotes and
//! backslashes group words (`exec sh -c 'echo a b'`); an unbalanced quote is an error.
//!
//! Exit code: the highest of the commands' ([`crate::exit`]): 0 when every command answered
//! fully; 1 when one had a missing, denied or failed node, or was cancelled; 2 when a line
//! did not parse or the session broke; 3/4 when the entry refused the session.

use std::io::{BufRead, IsTerminal};

use mon_proto::agg::Query;

use super::interactive::{Interactive, KEEPALIVE};
use super::session::{load_key_and_known, print_answers, report_denied, AnswerOpts, Answered};
use super::GlobalOpts;
use crate::exit;
use crate::out::{errln, outln};

const HELP: &str = "\
commands (each runs on every node of the session's overlay):
  count | depth | topology
  avg RES | top N RES | histo RES [B] | filter RES OP VALUE | filter grep WORD FILE
  exec [--cmd-timeout S] [--shell] [--where RES OP VALUE] [--] CMD ARGS...
      (exec and filter grep need a session of that class: mon shell --class exec|read)
  words are quoted as in sh: exec sh -c 'echo a b'
shell:
  help          this text
  .json on|off  answers as JSON lines, or for humans
  quit          end the session (also Ctrl-D); Ctrl-C cancels the running command";

/// What a line asks for.
#[derive(Debug, PartialEq)]
enum Line {
    Empty,
    Help,
    Json(bool),
    Quit,
    Run(String, Query),
    Bad(String),
}

fn parse_line(line: &str) -> Line {
    let Some(words) = shlex::split(line) else {
        return Line::Bad(
            "unbalanced quote or trailing backslash: quote as a POSIX shell does, e.g. exec sh -c 'echo a b'"
                .into(),
        );
    };
    let Some(first) = words.first() else {
        return Line::Empty;
    };
    match (
        first.as_str(),
        words.get(1).map(String::as_str),
        words.len(),
    ) {
        ("help" | "?" | ".help", _, 1) => Line::Help,
        ("quit" | "exit" | ".quit", _, 1) => Line::Quit,
        (".json", Some("on"), 2) => Line::Json(true),
        (".json", Some("off"), 2) => Line::Json(false),
        (".json", ..) => Line::Bad("usage: .json on|off".into()),
        _ => match Query::parse(&words) {
            Ok(q) => Line::Run(first.to_ascii_lowercase(), q),
            Err(e) => Line::Bad(format!("{e} (`help` lists commands)")),
        },
    }
}

/// `mon shell`: runs until the input ends; returns the exit code.
pub fn run_shell(g: &GlobalOpts, class: Option<&'static str>) -> anyhow::Result<u8> {
    let (signer, known) = load_key_and_known(g)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut s = match Interactive::open(g, &*signer, &known, class).await? {
            Ok(s) => s,
            Err((node, code, text)) => return Ok(report_denied(g, &node, &code, &text, &*signer)),
        };
        let joined = s
            .first
            .partials
            .first()
            .map_or(0, |p| p.coverage().answered);
        errln!(
            "mon shell: {joined} nodes joined through {} in {} ms; `help` lists commands",
            mon_proto::shown::shown(s.entry()),
            s.session_ms
        );
        let (lines, mut rx) = tokio::sync::mpsc::channel::<String>(1);
        let (ready, ready_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || read_lines(&lines, &ready_rx));
        let mut g = g.clone();
        let mut code = exit::OK;
        loop {
            if ready.send(()).is_err() {
                break;
            }
            let Some(line) = next_line(&mut s, &mut rx).await? else {
                break;
            };
            match parse_line(&line) {
                Line::Empty => {}
                Line::Help => outln!("{HELP}"),
                Line::Json(on) => g.json = on,
                Line::Quit => break,
                Line::Bad(e) => {
                    errln!("mon shell: {e}");
                    code = code.max(exit::LOCAL_ERROR);
                }
                Line::Run(name, q) => {
                    let c = run_one(&mut s, &g, &known, &name, q).await?;
                    code = code.max(c);
                }
            }
        }
        Ok(code)
    })
}

/// The next line; keepalives go to the entry node meanwhile. `None`: the input ended, or
/// Ctrl-C while waiting for a pipe.
async fn next_line(
    s: &mut Interactive,
    rx: &mut tokio::sync::mpsc::Receiver<String>,
) -> anyhow::Result<Option<String>> {
    loop {
        tokio::select! {
            l = rx.recv() => return Ok(l),
            _ = tokio::signal::ctrl_c() => return Ok(None),
            () = tokio::time::sleep(KEEPALIVE) => s.keepalive().await?,
        }
    }
}

/// Runs one command over the session and prints its answer; returns its exit code.
async fn run_one(
    s: &mut Interactive,
    g: &GlobalOpts,
    known: &mon_keys::known_nodes::KnownNodes,
    name: &str,
    q: Query,
) -> anyhow::Result<u8> {
    let cancel = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let a = s.run(vec![q.clone()], cancel).await?;
    if a.cancelled {
        errln!("mon shell: cancelled; what the nodes had answered by then:");
    }
    let answered = Answered {
        result: a.result,
        entry: s.entry().to_string(),
        targets: s.targets().to_vec(),
        timeout_ms: s.timeout_ms(),
        session_ms: 0,
        query_ms: a.query_ms,
    };
    let c = print_answers(g, name, &[q], answered, known, &AnswerOpts::default())?;
    Ok(if a.cancelled {
        c.max(exit::PARTIAL_OR_NEGATIVE)
    } else {
        c
    })
}

/// The input thread: one line each time the session is ready for one (on a terminal with
/// line editing and history, else plain lines).
fn read_lines(lines: &tokio::sync::mpsc::Sender<String>, ready: &std::sync::mpsc::Receiver<()>) {
    if !std::io::stdin().is_terminal() {
        let stdin = std::io::stdin();
        let mut input = stdin.lock().lines();
        while ready.recv().is_ok() {
            let Some(Ok(line)) = input.next() else {
                return;
            };
            if lines.blocking_send(line).is_err() {
                return;
            }
        }
        return;
    }
    let Ok(mut rl) = rustyline::DefaultEditor::new() else {
        return;
    };
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".mon/shell_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    while ready.recv().is_ok() {
        let line = match rl.readline("mon> ") {
            Ok(l) => {
                let _ = rl.add_history_entry(l.as_str());
                l
            }
            Err(rustyline::error::ReadlineError::Interrupted) => String::new(),
            Err(_) => break,
        };
        if lines.blocking_send(line).is_err() {
            break;
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_commands_or_shell_words() {
        assert_eq!(parse_line("   "), Line::Empty);
        assert_eq!(parse_line("help"), Line::Help);
        assert_eq!(parse_line(".json on"), Line::Json(true));
        assert_eq!(parse_line(".json off"), Line::Json(false));
        assert!(matches!(parse_line(".json maybe"), Line::Bad(_)));
        assert_eq!(parse_line("quit"), Line::Quit);
        assert_eq!(parse_line("count"), Line::Run("count".into(), Query::Count));
        assert!(matches!(parse_line("top 3 load"), Line::Run(n, Query::Top { .. }) if n == "top"));
        assert!(matches!(parse_line("frobnicate"), Line::Bad(_)));
    }

    #[test]
    fn quotes_group_words_as_in_a_shell() {
        let Line::Run(name, Query::Exec { argv, .. }) = parse_line("exec sh -c 'echo a b'") else {
            panic!("not an exec: {:?}", parse_line("exec sh -c 'echo a b'"));
        };
        assert_eq!(name, "exec");
        assert_eq!(argv, ["sh", "-c", "echo a b"]);
        let Line::Run(_, Query::Exec { argv, .. }) = parse_line(r#"exec echo "x  y" z\ w"#) else {
            panic!("not an exec");
        };
        assert_eq!(argv, ["echo", "x  y", "z w"]);
        for bad in ["exec sh -c 'echo a b", "exec echo \"x", "exec echo x\\"] {
            let Line::Bad(e) = parse_line(bad) else {
                panic!("{bad:?} parsed");
            };
            assert!(e.contains("unbalanced quote"), "{e}");
        }
    }
}
