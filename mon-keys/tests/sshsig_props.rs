//! Property tests: the SSHSIG decoders never panic on random or mutated input, and no mutation
//! of a valid signature is ever accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use mon_keys::sshsig::{self, NS_QUERY};
use proptest::prelude::*;

const MSG: &[u8] = b"the signed session body";

/// A valid signature made by the ssh-key crate (independent of MON's signer).
fn valid() -> &'static Vec<u8> {
    static SIG: OnceLock<Vec<u8>> = OnceLock::new();
    SIG.get_or_init(|| {
        let sk = ssh_key::PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap();
        let sig = sk.sign(NS_QUERY, ssh_key::HashAlg::Sha512, MSG).unwrap();
        let blob = sshsig::dearmor(&sig.to_pem(ssh_key::LineEnding::LF).unwrap()).unwrap();
        sshsig::verify(&blob, NS_QUERY, MSG).unwrap();
        blob
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, value: u8 },
    Truncate { len: usize },
    Insert { at: usize, value: u8 },
    Remove { at: usize },
    Append { bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Insert { at, value }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        proptest::collection::vec(any::<u8>(), 1..8).prop_map(|bytes| Mutation::Append { bytes }),
    ]
}

fn apply(blob: &mut Vec<u8>, m: &Mutation) {
    let n = blob.len();
    match m {
        Mutation::Flip { at, bit } => blob[at % n] ^= 1 << bit,
        Mutation::Set { at, value } => blob[at % n] = *value,
        Mutation::Truncate { len } => blob.truncate(len % n),
        Mutation::Insert { at, value } => blob.insert(at % (n + 1), *value),
        Mutation::Remove { at } => {
            blob.remove(at % n);
        }
        Mutation::Append { bytes } => blob.extend_from_slice(bytes),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic_or_verify(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = sshsig::inspect(&bytes);
        prop_assert!(sshsig::verify(&bytes, NS_QUERY, MSG).is_err());
    }

    #[test]
    fn random_blob_with_valid_prefix_never_verifies(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = b"SSHSIG\0\0\0\x01".to_vec();
        bytes.extend_from_slice(&tail);
        let _ = sshsig::inspect(&bytes);
        prop_assert!(sshsig::verify(&bytes, NS_QUERY, MSG).is_err());
    }

    #[test]
    fn random_text_never_panics_dearmor(text in ".{0,300}") {
        let _ = sshsig::dearmor(&text);
        let wrapped = format!("-----BEGIN SSH SIGNATURE-----\n{text}\n-----END SSH SIGNATURE-----\n");
        if let Ok(blob) = sshsig::dearmor(&wrapped) {
            prop_assert!(sshsig::verify(&blob, NS_QUERY, MSG).is_err());
        }
    }

    #[test]
    fn mutated_signatures_are_never_accepted(muts in proptest::collection::vec(mutation(), 1..4)) {
        let original = valid();
        let mut blob = original.clone();
        for m in &muts {
            if blob.is_empty() {
                break;
            }
            apply(&mut blob, m);
        }
        let _ = sshsig::inspect(&blob);
        if blob != *original {
            prop_assert!(sshsig::verify(&blob, NS_QUERY, MSG).is_err());
        }
    }

    #[test]
    fn mutated_armor_never_panics_or_verifies(at in any::<usize>(), c in any::<char>()) {
        let original = valid();
        let text = sshsig::armor(original);
        let mut chars: Vec<char> = text.chars().collect();
        let i = at % chars.len();
        chars[i] = c;
        let mutated: String = chars.into_iter().collect();
        if let Ok(blob) = sshsig::dearmor(&mutated) {
            if blob != *original {
                prop_assert!(sshsig::verify(&blob, NS_QUERY, MSG).is_err());
            }
        }
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let original = valid();
    for at in 0..original.len() {
        for bit in 0..8 {
            let mut blob = original.clone();
            blob[at] ^= 1 << bit;
            assert!(
                sshsig::verify(&blob, NS_QUERY, MSG).is_err(),
                "flip of bit {bit} at byte {at} accepted"
            );
        }
    }
}

#[test]
fn every_truncation_and_extension_is_rejected() {
    let original = valid();
    for len in 0..original.len() {
        assert!(
            sshsig::inspect(&original[..len]).is_err(),
            "prefix {len} accepted"
        );
    }
    let mut longer = original.clone();
    longer.push(0);
    assert!(sshsig::inspect(&longer).is_err());
}
