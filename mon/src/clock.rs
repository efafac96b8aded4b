//! The wall clock, read in one place: the driver and the client hand `now_ms()` to the
//! sans-IO core, which never reads a clock itself.

/// Unix time in ms (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
