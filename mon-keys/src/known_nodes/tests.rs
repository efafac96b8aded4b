//! Tests of the known_nodes index and of entry pinning.

mod index_tests {
    #![allow(clippy::unwrap_used)]
    use super::super::*;

    /// The verdict by scanning every line, as before the index.
    fn scan(k: &KnownNodes, name: &str, ip: Option<IpAddr>, key: &[u8; 32]) -> Trust {
        if k.revoked.contains(key) {
            return Trust::Revoked;
        }
        let name = name.to_ascii_lowercase();
        let name_ip = name.parse::<IpAddr>().ok().map(|a| a.to_canonical());
        let ip = ip.map(|a| a.to_canonical());
        let (mut by_name, mut by_ip) = (Vec::new(), Vec::new());
        for n in k.nodes.iter().filter(|n| !n.revoked) {
            match n.host_match(&name, name_ip, ip) {
                Some(true) => by_name.push(n.key),
                Some(false) => by_ip.push(n.key),
                None => {}
            }
        }
        let deciding = if by_name.is_empty() { by_ip } else { by_name };
        if deciding.is_empty() {
            Trust::Unknown
        } else if deciding.contains(key) {
            Trust::Trusted
        } else {
            Trust::Mismatch
        }
    }

    fn key() -> [u8; 32] {
        crate::nodekey::NodeKey::generate(&mut rand_core::OsRng).public()
    }

    #[test]
    fn index_gives_the_verdicts_of_a_full_scan() {
        let keys: Vec<[u8; 32]> = (0..6).map(|_| key()).collect();
        let line = |host: &str, k: &[u8; 32]| format!("{host} {}\n", public_openssh(k));
        let text = [
            line("n1,10.0.0.1", &keys[0]),
            line("N2", &keys[1]),
            line("10.0.0.3", &keys[2]),
            line("rack-*,!rack-9", &keys[3]),
            line("n1", &keys[4]),
            format!("@revoked n5 {}\n", public_openssh(&keys[5])),
            line("n6,10.0.0.6,!10.0.0.7", &keys[5]),
            line("10.0.0.*", &keys[4]),
        ]
        .concat();
        let k = KnownNodes::parse(&text, Path::new("t")).unwrap();
        let names = [
            "n1", "N1", "n2", "n3", "rack-1", "rack-9", "n5", "n6", "zz", "10.0.0.3",
        ];
        let ips = [
            None,
            Some("10.0.0.1"),
            Some("10.0.0.3"),
            Some("10.0.0.7"),
            Some("10.0.0.9"),
            Some("192.0.2.1"),
        ];
        let mut checked = 0;
        for name in names {
            for ip in ips {
                let ip = ip.map(|s| s.parse::<IpAddr>().unwrap());
                for kk in &keys {
                    assert_eq!(
                        k.check(name, ip, kk),
                        scan(&k, name, ip, kk),
                        "{name} {ip:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, names.len() * ips.len() * keys.len());
        assert_eq!(k.check("n1", None, &keys[4]), Trust::Trusted);
        assert_eq!(k.check("n1", None, &keys[2]), Trust::Mismatch);
        assert_eq!(k.entries_named("n1").count(), 2);
        assert_eq!(k.entries_named("n5").count(), 0);
        assert_eq!(k.entries_named("rack-1").count(), 0);
    }
}

mod pin_tests {
    #![allow(clippy::unwrap_used)]
    use super::super::*;

    fn key() -> [u8; 32] {
        crate::nodekey::NodeKey::generate(&mut rand_core::OsRng).public()
    }

    fn line_of(p: Pin<'_>) -> Option<usize> {
        match p {
            Pin::Line(n) => Some(n.line()),
            _ => None,
        }
    }

    #[test]
    fn the_dialled_name_and_address_decide_never_the_claimed_name() {
        let k: Vec<[u8; 32]> = (0..4).map(|_| key()).collect();
        let line = |host: &str, k: &[u8; 32]| format!("{host} {}\n", public_openssh(k));
        let text = [
            line("n1,10.0.0.1", &k[0]),
            line("n2,10.0.0.2", &k[1]),
            line("web,10.0.0.9", &k[2]),
            line("10.0.0.3", &k[3]),
            line("n4", &k[3]),
            format!("@revoked 10.0.0.5 {}\n", public_openssh(&k[3])),
        ]
        .concat();
        let kn = KnownNodes::parse(&text, Path::new("t")).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Dialled by address: the line listing that address, whatever name answers.
        assert_eq!(line_of(kn.pin_dialled("10.0.0.1", ip("10.0.0.1"))), Some(1));
        assert_eq!(line_of(kn.pin_dialled("10.0.0.2", ip("10.0.0.2"))), Some(2));
        // By name as typed, then the resolved address: both lines must agree.
        assert_eq!(line_of(kn.pin_dialled("N1", ip("10.0.0.1"))), Some(1));
        assert!(matches!(
            kn.pin_dialled("n1", ip("10.0.0.2")),
            Pin::Conflict(a, b) if a.line() == 1 && b.line() == 2
        ));
        // A name with a line, at an address without one: the name's line.
        assert_eq!(line_of(kn.pin_dialled("web", ip("10.0.0.77"))), Some(3));
        // Nothing names it.
        assert!(matches!(
            kn.pin_dialled("10.0.0.77", ip("10.0.0.77")),
            Pin::Unknown
        ));
        // A key revoked elsewhere in the file.
        assert!(matches!(
            kn.pin_dialled("10.0.0.3", ip("10.0.0.3")),
            Pin::Revoked(n) if n.line() == 4
        ));
    }
}
