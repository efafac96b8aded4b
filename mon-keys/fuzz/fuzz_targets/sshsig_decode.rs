//! Fuzzes the SSHSIG decoders: raw blobs through `inspect` and `verify`, and the same bytes as
//! armored text through `dearmor`. None may panic, and random input must never verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mon_keys::sshsig::{self, NS_QUERY};

fuzz_target!(|data: &[u8]| {
    let _ = sshsig::inspect(data);
    assert!(sshsig::verify(data, NS_QUERY, b"fuzz").is_err());
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(blob) = sshsig::dearmor(text) {
            let _ = sshsig::inspect(&blob);
            assert!(sshsig::verify(&blob, NS_QUERY, b"fuzz").is_err());
        }
    }
});
