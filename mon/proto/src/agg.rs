//! Status queries (paper §2.3) and their in-network aggregation. Pure: no IO.
//!
//! A [`Query`] travels down the overlay. Every node evaluates it locally (the `mon` driver reads
//! the resource, greps the file or runs the command) and turns the outcome, a [`Local`], into a
//! [`Partial`] with [`Partial::from_local`]. A node merges the partials of its children into its
//! own with [`Partial::merge`] and sends the result to its parent; the client calls
//! [`Partial::check_for`] on what the entry node returns, then [`Partial::coverage`] and
//! [`Partial::finish`] to get the [`Answer`].
//!
//! # Merge rules
//!
//! Every merge is commutative and associative, so the answer does not depend on the shape of the
//! tree nor on the order in which children answer. A partial received from a child is untrusted:
//! `merge` rejects a partial of another kind, or one that breaks a size limit below, with an
//! [`AggError`] (the caller then treats that child like a lost subtree).
//!
//! Every partial carries, whatever the operation:
//! - `answered`: the number of nodes that evaluated the query (successfully or not). Merge: sum.
//!   `count` answers exactly this number.
//! - `failed`, `denied`, `missing`: node lists `(node, reason)` for nodes whose local evaluation
//!   failed (resource error, unreadable file, command that could not start), nodes whose policy
//!   denied the operation, and children whose subtree did not answer before the deadline (added by
//!   their parent with [`Partial::add_missing`]; a missing entry names the root of a lost
//!   subtree, whose size is unknown). Merge: union, sorted by node name, at most
//!   [`NODE_LIST_CAP`] entries kept (the smallest names), reasons cut to [`REASON_CAP`] bytes, and
//!   an exact `total` (sum) of all entries ever added. A failed or denied node is never counted
//!   in the operation's result.
//!
//! Per operation:
//! - `count`: `skipped`, the nodes (counted in `answered`) whose `--where` did not hold: a
//!   push session's operation is a count, and its nodes outside the condition relay only.
//!   Merge: sum.
//! - `depth`: the number of levels of the tree (a lone node has depth 1). A node's own partial has
//!   depth 1; a parent calls [`Partial::add_depth_level`] on each child's partial (or once on the
//!   merge of all its children, before merging its own) so the child's levels count one deeper.
//!   Merge: maximum.
//! - `topology`: the edges `(parent, child)` of the tree; the entry node's parent is the client,
//!   written [`CLIENT`] (`"@client"`, not a valid node name). Merge: sorted union.
//! - `avg RES`: the sum of the values as a double-double (about 106 bits, so the result does not
//!   depend on the merge order in practice) and their number. Merge: sums. The client divides;
//!   no value at all gives `null`.
//! - `top N RES`: at most N `(node, value)` pairs, descending value, ties by node name ascending.
//!   Merge: union, one entry per node (the larger value if a node came twice), keep the first N.
//!   Exact, because an entry cut from a subtree's list has N better entries above it.
//! - `histo RES`: exact while the subtree has at most [`HISTO_EXACT_CAP`] distinct values: a map
//!   value → count. Merge: add counts; when the union has more distinct values than the cap it
//!   switches (for good) to the approximate form: exact minimum, maximum and count, plus counts
//!   per logarithmic bin, each bin covering values within ±1% of its centre (bins of
//!   `γ = 1.01/0.99`, magnitudes clamped to `[1e-9, 1e18]`, values closer to 0 than 1e-9 in a zero
//!   bin), so at most 6,221 bins. Merge: add bin counts, min of mins, max of maxes. The client
//!   builds `B` equal-width buckets over `[min, max]` (the last one closed; a single bucket when
//!   all values are equal) and flags the answer approximate when the approximate form was used
//!   (a bin's count then goes to the bucket of its centre).
//! - `filter RES OP VALUE` and `filter grep WORD FILE`: each node evaluates the comparison (or the
//!   search) itself; the partial lists the matching node names. Merge: sorted union.
//! - `exec`: groups of identical outcomes (exit code, signal, timed-out, truncated, stdout, stderr,
//!   each output capped at [`EXEC_OUTPUT_CAP`] bytes) with their sorted node lists; nodes where
//!   `--where` did not match are counted as `skipped`. Merge: union of groups by outcome, union
//!   of node lists, sum of `skipped`. The answer lists the groups with the most nodes first.
//!
//! - `audit` (`audit fleet`): counts by event, principal and node (top keys, the rest in
//!   `other`), the newest matching records with their node names, and the chains that
//!   verified or not; merge and bounds in [`audit`].
//!
//! Bounds: `count`, `depth` and `avg` are constant size; `top` holds at most N ≤ 10,000 entries;
//! `histo` at most 6,221 bins; the node lists at most [`NODE_LIST_CAP`] entries each; `topology`,
//! `filter` and `exec` grow with the information they must carry (one edge or name per node,
//! one group per distinct outcome) and are refused beyond [`MAX_LIST_LEN`] entries.

mod answer;
pub mod audit;
mod histo;
mod local;
mod nodelist;
mod parse;
mod partial;
mod query;
mod unit;

pub use answer::{Answer, Bucket, Coverage, ExecGroup};
pub use local::{capped_text, ExecOutcome, Local};
pub use nodelist::{NodeList, NodeNote};
pub use parse::QueryParseError;
pub use partial::{AggError, Partial};
pub use query::{check_resource_name, CmpOp, Query, QueryError, Where};
pub use unit::{bytes, Unit};

/// The parent of the entry node in a topology: the client.
pub const CLIENT: &str = "@client";
/// At most this many entries are kept in each `failed`/`denied`/`missing` list.
pub const NODE_LIST_CAP: usize = 256;
/// Reasons in node lists are cut to this many bytes.
pub const REASON_CAP: usize = 256;
/// Longest node name accepted in a partial.
pub const MAX_NODE_NAME: usize = 255;
/// A partial is refused if one of its lists (topology edges, filter names, exec groups or the
/// node list of a group) is longer than this.
pub const MAX_LIST_LEN: usize = 1_000_000;
/// Largest `N` of `top N`.
pub const MAX_TOP_N: u32 = 10_000;
/// Largest number of histogram buckets.
pub const MAX_BUCKETS: u32 = 1_000;
/// Default number of histogram buckets.
pub const DEFAULT_BUCKETS: u32 = 10;
/// A histogram stays exact while it holds at most this many distinct values.
pub const HISTO_EXACT_CAP: usize = 4096;
/// Each of exec's stdout and stderr is cut to this many bytes (and marked truncated).
pub const EXEC_OUTPUT_CAP: usize = 64 * 1024;
/// Default exec timeout, seconds.
pub const DEFAULT_EXEC_TIMEOUT_S: u32 = 30;
/// Largest exec timeout, seconds.
pub const MAX_EXEC_TIMEOUT_S: u32 = 86_400;
/// Most arguments in an exec command line.
pub const MAX_EXEC_ARGS: usize = 256;
/// Most bytes (all arguments together) in an exec command line.
pub const MAX_EXEC_BYTES: usize = 64 * 1024;
/// Longest resource name.
pub const MAX_RESOURCE_NAME: usize = 64;
/// Longest grep word, bytes.
pub const MAX_GREP_WORD: usize = 1024;
/// Longest grep file path, bytes.
pub const MAX_GREP_PATH: usize = 4096;
