//! Where the process's log goes and how it looks: stderr, filtered by `RUST_LOG` (default
//! `warn`), as text (colours only when stderr is a terminal and `NO_COLOR` is unset) or as one
//! JSON object a line (`mon server --log-format json`).

use tracing_subscriber::EnvFilter;

/// The format of log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `TIMESTAMP LEVEL target: message key=value…`.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `message`, the event's fields, `target`.
    Json,
}

/// Installs the process's logger (once, before anything logs).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(crate::out::stderr_colour()).init(),
        LogFormat::Json => builder
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use crate::out::colour_allowed;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colour_allowed(true, None));
        assert!(colour_allowed(true, Some("".into())));
        assert!(!colour_allowed(true, Some("1".into())));
        assert!(!colour_allowed(false, None));
    }
}
