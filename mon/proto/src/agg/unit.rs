//! Units of resource values, and how a value is written for a human in each.
//!
//! The unit of each built-in resource is declared beside it (`mon/src/resources.rs`); the
//! renderer writes numbers with it. JSON keeps the raw number, in the resource's unit.

/// The unit a resource's values are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A load average (runnable tasks): two decimals.
    Load,
    /// Percent: one decimal and `%`.
    Percent,
    /// Mebibytes: written as bytes in the largest fitting binary unit (`22.9 GiB`).
    MiB,
    /// Gibibytes: as [`Unit::MiB`].
    GiB,
    /// A count: whole numbers as such, a mean with one decimal.
    Count,
    /// Seconds: as a duration (`3 d 4 h`, `12 min 5 s`, `4.2 s`).
    Seconds,
    /// Unknown (operator-defined resources): the number as it is, at most 6 decimals.
    Number,
}

impl Unit {
    /// The unit's name, as `--help` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Load => "runnable tasks",
            Unit::Percent => "%",
            Unit::MiB => "MiB",
            Unit::GiB => "GiB",
            Unit::Count => "count",
            Unit::Seconds => "seconds",
            Unit::Number => "number",
        }
    }

    /// `v` for a human, with its unit.
    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return v.to_string();
        }
        match self {
            Unit::Load => format!("{v:.2}"),
            Unit::Percent => format!("{v:.1} %"),
            Unit::MiB => bytes(v * MIB),
            Unit::GiB => bytes(v * MIB * 1024.0),
            Unit::Count if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            Unit::Count => format!("{v:.1}"),
            Unit::Seconds => duration(v),
            Unit::Number => number(v),
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Bytes in the largest binary unit that keeps the number at least 1, one decimal
/// (`512 B`, `1.5 KiB`, `22.9 GiB`).
pub fn bytes(v: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i + 1 < UNITS.len() {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.1} {}", UNITS[i])
    }
}

/// Seconds as a duration: the two largest units from days down (`3 d 4 h`, `5 h 12 min`,
/// `4 min 2 s`), or seconds with one decimal below a minute.
fn duration(v: f64) -> String {
    if v.abs() < 60.0 {
        return format!("{v:.1} s");
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let s = v.abs().round() as u64;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let text = if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {s} s")
    };
    format!("{sign}{text}")
}

/// A plain number: at most 6 decimals, trailing zeros removed; very large or very small ones
/// in scientific notation.
pub fn number(v: f64) -> String {
    if v.abs() >= 1e15 || (v != 0.0 && v.abs() < 1e-6) {
        return format!("{v:e}");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_carry_their_unit_and_a_sensible_precision() {
        assert_eq!(Unit::MiB.format(23434.839844), "22.9 GiB");
        assert_eq!(Unit::MiB.format(512.0), "512.0 MiB");
        assert_eq!(Unit::MiB.format(0.5), "512.0 KiB");
        assert_eq!(Unit::GiB.format(1536.0), "1.5 TiB");
        assert_eq!(Unit::GiB.format(37.25), "37.2 GiB");
        assert_eq!(Unit::Load.format(0.523), "0.52");
        assert_eq!(Unit::Percent.format(12.345), "12.3 %");
        assert_eq!(Unit::Count.format(312.0), "312");
        assert_eq!(Unit::Count.format(312.25), "312.2");
        assert_eq!(Unit::Seconds.format(4.25), "4.2 s");
        assert_eq!(Unit::Seconds.format(242.0), "4 min 2 s");
        assert_eq!(Unit::Seconds.format(18_720.0), "5 h 12 min");
        assert_eq!(Unit::Seconds.format(273_600.0), "3 d 4 h");
        assert_eq!(Unit::Number.format(23434.839844), "23434.839844");
        assert_eq!(Unit::Number.format(2.5), "2.5");
        assert_eq!(Unit::Number.format(-0.0), "0");
        assert_eq!(bytes(100.0), "100 B");
        assert_eq!(Unit::Load.format(f64::NAN), "NaN");
    }
}
