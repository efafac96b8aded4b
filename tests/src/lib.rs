//! Helpers for MON end-to-end tests.
