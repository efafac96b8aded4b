//! The console test's push side: push dirs on the testbed, and a push through the API.

use std::path::PathBuf;
use std::time::Duration;

use mon_tests::Cluster;
use serde_json::{json, Value};

use super::http::Login;
use super::N;

/// Node `i`'s push directory (the testbed's policy lets the user push beneath it).
pub fn push_dir(c: &Cluster, i: u32) -> PathBuf {
    c.dir.path().join("push").join(format!("n{i}"))
}

/// Creates each node's push dir, owned like the testbed's own (as tests/push.rs does).
pub fn make_push_dirs(c: &Cluster) {
    use std::os::unix::fs::MetadataExt as _;
    let owner = std::fs::metadata(c.dir.path().join("push")).expect("the testbed's push dir");
    for i in 1..=N {
        std::fs::create_dir_all(push_dir(c, i)).expect("push dir");
        std::os::unix::fs::chown(push_dir(c, i), Some(owner.uid()), Some(owner.gid()))
            .expect("chown the push dir");
    }
}

/// `DEST` for a push into every node's push dir.
pub fn push_dest(c: &Cluster, name: &str) -> String {
    format!("{}/push/{{node}}/{name}", c.dir.path().display())
}

/// Polls a push job until it ends (bounded: 600 polls, 100 ms apart).
pub fn wait_push(me: &Login, job: &Value) -> Value {
    let path = format!("/api/push/{job}");
    for _ in 0..600 {
        let (status, v) = me.get(&path);
        assert_eq!(status, 200, "{v}");
        if v["state"] != "starting" && v["state"] != "running" {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the push never ended");
}

/// A push uploaded through the API (`--allow push`): each node reports done and the file
/// lands byte for byte; a bad upload is refused with a reason.
pub fn check_push_api(c: &Cluster, me: &Login) {
    use base64::Engine as _;
    let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    let (status, v) = me.post(
        "/api/push",
        json!({"dest": push_dest(c, "api.bin"), "upload": {"name": "api.bin", "base64": b64}}),
    );
    assert_eq!(status, 202, "{v}");
    let j = wait_push(me, &v["job"]);
    assert_eq!(j["state"], "finished", "{j}");
    assert_eq!(j["done"], N, "{j}");
    let nodes = j["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), N as usize, "{j}");
    assert!(nodes.iter().all(|n| n["state"] == "done"), "{j}");
    for i in 1..=N {
        let got = std::fs::read(push_dir(c, i).join("api.bin")).expect("the pushed file");
        assert!(got == data, "n{i}: content differs");
    }
    // A file named by its path on the console's machine.
    let local = c.dir.path().join("local.bin");
    std::fs::write(&local, b"named by its path\n").expect("write");
    let (status, v) = me.post(
        "/api/push",
        json!({"dest": push_dest(c, "local.bin"), "path": local}),
    );
    assert_eq!(status, 202, "{v}");
    let j = wait_push(me, &v["job"]);
    assert_eq!(j["done"], N, "{j}");
    let got = std::fs::read(push_dir(c, N).join("local.bin")).expect("the pushed file");
    assert_eq!(got, b"named by its path\n");

    let (status, v) = me.post(
        "/api/push",
        json!({"dest": push_dest(c, "x"), "upload": {"name": "x", "base64": "%%"}}),
    );
    assert_eq!(status, 400, "{v}");
    let (status, v) = me.post("/api/push", json!({"dest": push_dest(c, "x")}));
    assert_eq!(status, 400, "{v}");
}
