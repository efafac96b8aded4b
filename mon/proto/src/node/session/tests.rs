//! Unit tests of the session machine, without a whole node.
