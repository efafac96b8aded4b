//! Operations and the capability classes (SSHSIG namespaces) that carry them: the one home of
//! the namespace ladder. The namespace strings themselves are defined once, in
//! `mon_keys::sshsig` (the signing layer), and re-exported here.
//!
//! The ladder: `query` < `read` < `exec`, with `push` beside exec (it covers queries only) and
//! `audit` beside them all (reading every node's audit log, `mon audit fleet`: it covers
//! queries and audit reads only, and no other class covers audit reads, so granting exec does
//! not grant it nor the other way round). A namespace pattern such as `mon-*@mon` in
//! `allowed_signers` matches `mon-audit@mon` like any other class (OpenSSH semantics); `mon
//! policy check` warns about every wildcard namespace grant.
//! [`required_namespace`] is the least class of one operation, [`namespace_for`] of a whole
//! session, and [`namespace_covers`] says what a signed class may carry.

/// Queries: count, depth, topology, members, avg, top, histo, filter on resources
/// ([`NS_QUERY`]); queries plus `filter grep` ([`NS_READ`]); queries, reads and exec
/// ([`NS_EXEC`]); push, plus queries ([`NS_PUSH`]); audit reads, plus queries ([`NS_AUDIT`]).
pub use mon_keys::sshsig::{NS_AUDIT, NS_EXEC, NS_PUSH, NS_QUERY, NS_READ};

/// The five classes, from least to most powerful (push and audit are beside exec, not above
/// it).
pub const CLASSES: [&str; 5] = [NS_QUERY, NS_READ, NS_EXEC, NS_PUSH, NS_AUDIT];

/// One operation of a session, with the arguments policy looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// A query (`count`, `avg`, `top`, `filter` on a resource, …); `name` is the operation name.
    Query {
        /// Operation name, e.g. `avg`.
        name: String,
    },
    /// `filter grep WORD FILE`: reads the file at `path`.
    Grep {
        /// The file to read.
        path: String,
    },
    /// Runs a command; `argv[0]` is the program.
    Exec {
        /// The command line.
        argv: Vec<String>,
    },
    /// Writes a pushed file at `dest`.
    Push {
        /// The destination path.
        dest: String,
    },
    /// Reads this node's audit log (`mon audit fleet`), as the server.
    Audit,
}

impl Operation {
    /// A short human description for messages (`exec "ls -l"`).
    pub fn describe(&self) -> String {
        match self {
            Operation::Query { name } => format!("query \"{name}\""),
            Operation::Grep { path } => format!("grep in \"{path}\""),
            Operation::Exec { argv } => format!("exec \"{}\"", argv.join(" ")),
            Operation::Push { dest } => format!("push to \"{dest}\""),
            Operation::Audit => "audit read".to_string(),
        }
    }
}

/// The namespace a client signs a session with when it carries only `op`: the least class
/// that covers it.
pub fn required_namespace(op: &Operation) -> &'static str {
    match op {
        Operation::Query { .. } => NS_QUERY,
        Operation::Grep { .. } => NS_READ,
        Operation::Exec { .. } => NS_EXEC,
        Operation::Push { .. } => NS_PUSH,
        Operation::Audit => NS_AUDIT,
    }
}

/// The narrowest namespace class a client signs a session carrying every operation of `ops`
/// with: push wins over everything, then audit, exec over read and query, read over query. (A
/// session mixing push or audit with another class gets [`NS_PUSH`] or [`NS_AUDIT`], which
/// [`namespace_covers`] then refuses for the other operations.)
pub fn namespace_for(ops: &[Operation]) -> &'static str {
    let mut ns = NS_QUERY;
    for op in ops {
        ns = match (ns, op) {
            (_, Operation::Push { .. }) => NS_PUSH,
            (n, Operation::Audit) if n != NS_PUSH => NS_AUDIT,
            (n, Operation::Exec { .. }) if n != NS_PUSH && n != NS_AUDIT => NS_EXEC,
            (n, Operation::Grep { .. }) if n == NS_QUERY => NS_READ,
            (n, _) => n,
        };
    }
    ns
}

/// True when a session signed with namespace `ns` may carry `op`: queries under any of the
/// five classes, grep under read or exec, exec under exec, push under push, audit reads under
/// audit. Any other namespace covers nothing.
pub fn namespace_covers(ns: &str, op: &Operation) -> bool {
    match op {
        Operation::Query { .. } => CLASSES.contains(&ns),
        Operation::Grep { .. } => ns == NS_READ || ns == NS_EXEC,
        Operation::Exec { .. } => ns == NS_EXEC,
        Operation::Push { .. } => ns == NS_PUSH,
        Operation::Audit => ns == NS_AUDIT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One operation of each kind: query, grep, exec, push (audit: `audit_is_its_own_class`).
    fn ops() -> [Operation; 4] {
        [
            Operation::Query { name: "avg".into() },
            Operation::Grep { path: "/x".into() },
            Operation::Exec {
                argv: vec!["ls".into()],
            },
            Operation::Push { dest: "/x".into() },
        ]
    }

    #[test]
    fn coverage() {
        let [q, g, e, p] = ops();
        for ns in CLASSES {
            assert!(namespace_covers(ns, &q));
        }
        assert!(!namespace_covers("file", &q));
        assert!(!namespace_covers(NS_QUERY, &g));
        assert!(namespace_covers(NS_READ, &g));
        assert!(namespace_covers(NS_EXEC, &g));
        assert!(!namespace_covers(NS_PUSH, &g));
        assert!(namespace_covers(NS_EXEC, &e));
        assert!(!namespace_covers(NS_READ, &e));
        assert!(!namespace_covers(NS_PUSH, &e));
        assert!(namespace_covers(NS_PUSH, &p));
        assert!(!namespace_covers(NS_EXEC, &p));
        for op in [&q, &g, &e, &p] {
            assert!(namespace_covers(required_namespace(op), op));
        }
    }

    #[test]
    fn ladder() {
        let [q, g, e, p] = ops();
        assert_eq!(namespace_for(&[]), NS_QUERY);
        for op in [&q, &g, &e, &p] {
            assert_eq!(
                namespace_for(std::slice::from_ref(op)),
                required_namespace(op)
            );
        }
        assert_eq!(namespace_for(&[g.clone(), q.clone()]), NS_READ);
        assert_eq!(namespace_for(&[e.clone(), g.clone()]), NS_EXEC);
        assert_eq!(namespace_for(&[g.clone(), e.clone()]), NS_EXEC);
        assert_eq!(namespace_for(&[p.clone(), e.clone()]), NS_PUSH);
        assert_eq!(namespace_for(&[e, p, g, q]), NS_PUSH);
    }

    /// Audit reads are their own class: only `mon-audit@mon` carries them, and it carries
    /// queries besides, nothing else.
    #[test]
    fn audit_is_its_own_class() {
        let [q, g, e, p] = ops();
        let a = Operation::Audit;
        assert_eq!(required_namespace(&a), NS_AUDIT);
        for ns in [NS_QUERY, NS_READ, NS_EXEC, NS_PUSH, "file"] {
            assert!(!namespace_covers(ns, &a), "{ns}");
        }
        assert!(namespace_covers(NS_AUDIT, &a));
        assert!(namespace_covers(NS_AUDIT, &q));
        for op in [&g, &e, &p] {
            assert!(!namespace_covers(NS_AUDIT, op));
        }
        assert_eq!(namespace_for(&[q.clone(), a.clone()]), NS_AUDIT);
        assert_eq!(namespace_for(&[a.clone(), e.clone()]), NS_AUDIT);
        assert_eq!(namespace_for(&[e, a.clone(), p]), NS_PUSH);
    }
}
