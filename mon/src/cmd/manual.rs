//! `mon completions SHELL` and `mon man`: shell completions and man pages, generated from the
//! one clap definition (`cli.rs`). The Debian package ships copies of them
//! (`mon/pkg/generated/`, written by `mon/pkg/generate.sh`; a test keeps them current).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::Cli;

/// Arguments of `mon man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write mon.1 and one page per subcommand (mon-server.1, mon-policy-check.1, …) into DIR
    /// instead of printing mon.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The command as documented: the package version only (no commit, so that the pages only
/// change when the interface does).
fn command() -> clap::Command {
    Cli::command()
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command(), "mon", &mut out);
    out
}

/// The main man page, `mon.1` (roff).
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command())
        .render(&mut out)
        .context("rendering the man page")?;
    Ok(out)
}

/// Writes every man page into `dir` (created if missing); returns the pages in it, sorted.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(command(), dir)
        .with_context(|| format!("writing man pages into {}", dir.display()))?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("mon") && name.ends_with(".1")
        })
        .collect();
    pages.sort();
    Ok(pages)
}

/// `mon completions SHELL`.
pub fn run_completions(shell: Shell) -> anyhow::Result<u8> {
    std::io::stdout()
        .write_all(&completions(shell))
        .context("writing the completions")?;
    Ok(0)
}

/// `mon man [--dir DIR]`.
pub fn run_man(args: ManArgs) -> anyhow::Result<u8> {
    match args.dir {
        Some(dir) => {
            for p in write_man_pages(&dir)? {
                crate::out::outln!("{}", p.display());
            }
        }
        None => std::io::stdout()
            .write_all(&man_page()?)
            .context("writing the man page")?,
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// What a user types first: every top-level command.
    const SUBCOMMANDS: &[&str] = &[
        "count",
        "depth",
        "topology",
        "avg",
        "top",
        "histo",
        "filter",
        "exec",
        "members",
        "push",
        "policy",
        "audit",
        "key",
        "server",
        "testbed",
        "sim",
        "completions",
        "man",
    ];

    #[test]
    fn completions_for_each_shell_name_the_subcommands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(completions(shell)).unwrap();
            for sub in SUBCOMMANDS {
                assert!(text.contains(sub), "{shell}: no {sub}");
            }
            // Flags of subcommands too, not only their names.
            assert!(
                text.contains("state-dir") && text.contains("cmd-timeout"),
                "{shell}"
            );
        }
    }

    #[test]
    fn the_man_page_is_roff_naming_every_subcommand() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.contains(".TH mon 1"), "{page}");
        let subs = page
            .split(".SH SUBCOMMANDS")
            .nth(1)
            .expect("a SUBCOMMANDS section");
        for sub in SUBCOMMANDS {
            assert!(
                subs.contains(&format!("mon\\-{}(1)", sub.replace('-', "\\-"))),
                "{sub}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let pages = write_man_pages(dir.path()).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "mon.1",
            "mon-server.1",
            "mon-server-init.1",
            "mon-policy-check.1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
    }

    /// The copies the .deb ships (`mon/pkg/generated/`) are what this binary generates.
    #[test]
    fn the_packaged_pages_and_completions_are_current() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg/generated");
        let stale = "is out of date: run mon/pkg/generate.sh and commit mon/pkg/generated";
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let file = shipped.join(format!("completions/mon.{shell}"));
            let have = std::fs::read(&file).unwrap_or_default();
            assert!(have == completions(shell), "{} {stale}", file.display());
        }
        let dir = tempfile::tempdir().unwrap();
        let fresh = write_man_pages(dir.path()).unwrap();
        let mut shipped_pages: Vec<String> = std::fs::read_dir(shipped.join("man"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        shipped_pages.sort();
        let fresh_names: Vec<String> = fresh
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(shipped_pages, fresh_names, "mon/pkg/generated/man {stale}");
        for p in &fresh {
            let name = p.file_name().unwrap();
            let have = std::fs::read(shipped.join("man").join(name)).unwrap();
            assert!(have == std::fs::read(p).unwrap(), "{name:?} {stale}");
        }
    }
}
