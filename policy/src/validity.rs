//! `valid-after=` / `valid-before=` times and validity windows.
//!
//! The format is ssh-keygen's: `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, optionally
//! followed by `Z` or `UTC`. ssh-keygen 9.2 reads a time without `Z`/`UTC` as *local* time of
//! the machine that checks it. MON reads every time as UTC, so that all nodes of a slice agree
//! whatever their time zone; `mon policy check` warns about times without `Z` (append `Z` and
//! both tools agree). MON is also stricter than `strptime`: impossible dates such as
//! `20240231` are errors rather than rolled over into March.
//!
//! As in ssh-keygen, `valid-after` and `valid-before` are inclusive: a key is valid at `t` when
//! `valid_after <= t <= valid_before`.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A parsed time: unix seconds, and whether it carried an explicit `Z`/`UTC` zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedTime {
    /// Unix seconds (UTC).
    pub unix_s: u64,
    /// True when written with `Z` or `UTC`.
    pub explicit_utc: bool,
}

/// Parses an ssh-keygen time (`YYYYMMDD[HHMM[SS]][Z|UTC]`) as UTC.
pub fn parse_time(s: &str) -> Result<ParsedTime, String> {
    let (digits, explicit_utc) = if let Some(d) = strip_suffix_ci(s, "UTC") {
        (d, true)
    } else if let Some(d) = strip_suffix_ci(s, "Z") {
        (d, true)
    } else {
        (s, false)
    };
    if !digits.bytes().all(|c| c.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(format!(
            "invalid time \"{s}\": expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z"
        ));
    }
    let unix_s = TimeFields::read(digits)
        .unix_s()
        .map_err(|what| format!("invalid time \"{s}\": {what}"))?;
    Ok(ParsedTime {
        unix_s,
        explicit_utc,
    })
}

/// The numbers of a time's digits, not yet checked against the calendar.
struct TimeFields {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl TimeFields {
    /// Reads `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS` (all ASCII digits, length checked).
    fn read(digits: &str) -> TimeFields {
        let num = |a: usize, b: usize| -> u32 {
            digits
                .get(a..b)
                .and_then(|x| x.parse::<u32>().ok())
                .unwrap_or(0)
        };
        let (hour, minute, second) = match digits.len() {
            8 => (0, 0, 0),
            12 => (num(8, 10), num(10, 12), 0),
            _ => (num(8, 10), num(10, 12), num(12, 14)),
        };
        TimeFields {
            year: num(0, 4) as i32,
            month: num(4, 6),
            day: num(6, 8),
            hour,
            minute,
            second,
        }
    }

    /// Unix seconds of this UTC time; an impossible date or time, or one before 1970, is
    /// refused with what is wrong.
    fn unix_s(&self) -> Result<u64, &'static str> {
        let month = u8::try_from(self.month)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or("month must be 01..12")?;
        let day = u8::try_from(self.day).map_err(|_| "no such day")?;
        let date = Date::from_calendar_date(self.year, month, day).map_err(|_| "no such date")?;
        let time = Time::from_hms(
            u8::try_from(self.hour).unwrap_or(u8::MAX),
            u8::try_from(self.minute).unwrap_or(u8::MAX),
            u8::try_from(self.second).unwrap_or(u8::MAX),
        )
        .map_err(|_| "no such time of day")?;
        let ts = PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp();
        u64::try_from(ts).map_err(|_| "before 1970")
    }
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    if cut == 0 {
        return None;
    }
    let (head, tail) = (s.get(..cut)?, s.get(cut..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

/// Formats unix seconds as RFC 3339 UTC (`2024-01-01T00:00:00Z`), for messages.
pub fn format_time(unix_s: u64) -> String {
    i64::try_from(unix_s)
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{unix_s}"))
}

/// The validity window of an `allowed_signers` line (both ends inclusive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    /// `valid-after=`, unix seconds.
    pub after: Option<u64>,
    /// `valid-before=`, unix seconds.
    pub before: Option<u64>,
}

/// Why a key is outside its validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideWindow {
    /// `now < valid-after`.
    NotYetValid(u64),
    /// `now > valid-before`.
    Expired(u64),
}

impl Validity {
    /// Checks `now` against the window, as ssh-keygen does.
    pub fn check(&self, now_unix_s: u64) -> Result<(), OutsideWindow> {
        if let Some(a) = self.after {
            if now_unix_s < a {
                return Err(OutsideWindow::NotYetValid(a));
            }
        }
        if let Some(b) = self.before {
            if now_unix_s > b {
                return Err(OutsideWindow::Expired(b));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = |s: &str| parse_time(s).map(|p| p.unix_s);
        assert_eq!(t("19700102Z"), Ok(86_400));
        assert_eq!(t("20240101Z"), Ok(1_704_067_200));
        assert_eq!(t("20240101"), Ok(1_704_067_200));
        assert_eq!(t("202401010101UTC"), Ok(1_704_067_200 + 3660));
        assert_eq!(t("20240101010101z"), Ok(1_704_067_200 + 3661));
        assert!(parse_time("20240101")
            .map(|p| !p.explicit_utc)
            .unwrap_or(false));
        for bad in [
            "20240231",
            "2024010",
            "Z",
            "UTC",
            "20241301",
            "202401012500",
            "abcdefgh",
            "",
            "19691231",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(format_time(1_704_067_200), "2024-01-01T00:00:00Z");
    }

    #[test]
    fn window() {
        let v = Validity {
            after: Some(10),
            before: Some(20),
        };
        assert_eq!(v.check(9), Err(OutsideWindow::NotYetValid(10)));
        assert_eq!(v.check(10), Ok(()));
        assert_eq!(v.check(20), Ok(()));
        assert_eq!(v.check(21), Err(OutsideWindow::Expired(20)));
    }
}
