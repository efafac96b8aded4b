//! Fuzz `KnownNodes::parse`: any text parses or fails cleanly, and lookups on what parsed
//! never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mon_keys::known_nodes::KnownNodes;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(known) = KnownNodes::parse(text, Path::new("fuzz/known_nodes")) {
        for node in known.entries() {
            let name = node.names().next().unwrap_or("x").to_string();
            let ip = node.ips().next();
            let _ = known.check(&name, ip, node.key());
            let _ = known.check("node-1", "192.0.2.1".parse().ok(), node.key());
        }
    }
});
