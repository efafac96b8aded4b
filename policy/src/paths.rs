//! Lexical path handling for `push-dirs` and `grep-paths`.
//!
//! Paths are normalised without touching the file system: repeated `/` and `.` components are
//! removed, as is a trailing `/`. A `..` component is refused outright rather than resolved:
//! lexically `/srv/apps/link/../x` is `/srv/apps/x`, but the kernel resolves it through the
//! symlink, so resolving `..` here could let a path escape its directory.

/// Normalises an absolute path lexically. Errors (with a user message) for a relative path,
/// a `..` component or a NUL byte.
pub fn normalize_abs_path(path: &str) -> Result<String, &'static str> {
    if !path.starts_with('/') {
        return Err("path must be absolute (start with /)");
    }
    if path.contains('\0') {
        return Err("path contains a NUL byte");
    }
    let mut out = String::with_capacity(path.len());
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err("path must not contain '..'"),
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// True when normalised `path` is `dir` or lies below it (both normalised).
pub(crate) fn is_within(path: &str, dir: &str) -> bool {
    if dir == "/" {
        return true;
    }
    match path.strip_prefix(dir) {
        Some("") => true,
        Some(rest) => rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise() {
        assert_eq!(
            normalize_abs_path("/srv//apps/./x/"),
            Ok("/srv/apps/x".to_string())
        );
        assert_eq!(normalize_abs_path("/"), Ok("/".to_string()));
        assert!(normalize_abs_path("srv/apps").is_err());
        assert!(normalize_abs_path("/srv/apps/../etc").is_err());
        assert!(normalize_abs_path("/srv/a\0").is_err());
        assert!(normalize_abs_path("").is_err());
    }

    #[test]
    fn within() {
        assert!(is_within("/srv/apps", "/srv/apps"));
        assert!(is_within("/srv/apps/x", "/srv/apps"));
        assert!(!is_within("/srv/appsx", "/srv/apps"));
        assert!(!is_within("/srv", "/srv/apps"));
        assert!(is_within("/etc", "/"));
    }
}
