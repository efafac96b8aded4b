#![allow(clippy::unwrap_used)]
use std::path::{Path, PathBuf};

use super::*;

fn args(key: Option<&str>, server: Option<&str>, targets: &[&str]) -> GlobalArgs {
    GlobalArgs {
        key: key.map(PathBuf::from),
        server: server.map(|s| s.parse().unwrap()),
        targets: targets.iter().map(|s| s.to_string()).collect(),
        ..GlobalArgs::default()
    }
}

#[test]
fn a_later_layer_wins_and_lists_gather() {
    // config file, then environment, then the command line (as `layered` stacks them)
    let file = args(Some("/file/key"), Some("filehost"), &[]);
    let env = args(Some("/env/key"), None, &[]);
    let flags = args(None, None, &["web*"]);
    let got = file.then(env).then(flags);
    assert_eq!(got.key, Some(PathBuf::from("/env/key")));
    assert_eq!(got.server.unwrap().to_string(), "filehost");
    let got = args(Some("/a"), None, &["a"]).then(args(Some("/b"), Some("[::1]:9"), &["b", "c"]));
    assert_eq!(got.key, Some(PathBuf::from("/b")));
    assert_eq!(got.server.unwrap().to_string(), "[::1]:9");
    assert_eq!(got.targets, ["a", "b", "c"]);
}

#[test]
fn the_config_file_is_read_like_server_conf() {
    let text = "# my fleet\nserver = n1\nslice 'lab'\nknown_nodes ~/fleet/known_nodes\n\
                key /keys/id_ed25519\noverlay dag\ntimeout 30\n";
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let a = parse_config(Path::new("cfg"), text).unwrap();
    assert_eq!(a.server.unwrap().to_string(), "n1");
    assert_eq!(a.slice.as_deref(), Some("lab"));
    assert_eq!(a.key, Some(PathBuf::from("/keys/id_ed25519")));
    assert_eq!(a.overlay, Some(OverlayArg::Dag));
    assert_eq!(a.timeout, Some(30.0));
    if let Some(h) = home {
        assert_eq!(a.known_nodes, Some(h.join("fleet/known_nodes")));
    }
    for (text, says) in [
        (
            "server n1\ntargets web*\n",
            "cfg: line 2: unknown setting `targets`",
        ),
        ("timeout soon\n", "cfg: line 1: invalid value 'soon'"),
        ("server [::1\n", "cfg: line 1: invalid value"),
        ("slice\n", "cfg: line 1: `slice` needs a value"),
    ] {
        let e = parse_config(Path::new("cfg"), text)
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{text:?}: {e}");
    }
}
