//! The one parser of durations (`90s`, `15m`, `1h`, `2d`, `1w`) and sizes (`512K`, `64M`,
//! `1G`, bytes) that flags and server.conf settings take.

/// Seconds in one of a duration's units.
fn unit_secs(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    })
}

/// `<n>s|m|h|d|w` in seconds; `None` for anything else (or an overflow).
pub fn parse_duration_s(s: &str) -> Option<u64> {
    let unit_at = s.len().checked_sub(1)?;
    let (digits, unit) = s.split_at_checked(unit_at)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit_secs(unit)?)
}

/// `<n>` bytes or `<n>K|M|G` (powers of 1024); `None` for anything else (or an overflow).
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.strip_suffix(['K', 'M', 'G']) {
        Some(d) => (
            d,
            [('K', 10), ('M', 20), ('G', 30)]
                .iter()
                .find(|(c, _)| s.ends_with(*c))?
                .1,
        ),
        None => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration_s("90s"), Some(90));
        assert_eq!(parse_duration_s("2d"), Some(172_800));
        assert_eq!(parse_duration_s("1w"), Some(604_800));
        for bad in ["", "h", "1y", "-1h", "+1h", "99999999999999999w", "1.5h"] {
            assert_eq!(parse_duration_s(bad), None, "{bad}");
        }
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        for bad in ["", "M", "1T", "-1", "1 M", "99999999999999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }
}
