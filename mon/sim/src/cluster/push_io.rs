//! The simulated nodes' push files, in memory: what a server's `push_io` does on disk (a
//! temporary file per session, written block by block, committed over DEST, read back to serve
//! children), keyed by (node, session).
//!
//! Contract, as on a server: a landing (`relay_only` false) needs the `push-dirs` entry the
//! policy resolved (`push-dir-denied` without one); a relay keeps the blocks only to serve
//! them and commits nothing. Blocks are read from the file before and after its commit. A
//! dropped session's file goes; what was committed stays landed at DEST.

use std::collections::{BTreeMap, HashMap};

use mon_proto::node::PushIoError;
use mon_proto::wire::session::SessionHash;

/// One session's file on one node.
struct PushFile {
    dest: String,
    relay_only: bool,
    bytes: Vec<u8>,
}

/// Every node's push files.
#[derive(Default)]
pub(crate) struct PushFiles {
    files: HashMap<(usize, SessionHash), PushFile>,
    /// Committed files: (node, DEST) → contents.
    landed: BTreeMap<(usize, String), Vec<u8>>,
}

/// An I/O failure as a node hears it.
fn io_err(text: &str) -> PushIoError {
    PushIoError {
        code: "io".into(),
        text: text.into(),
    }
}

impl PushFiles {
    /// Creates node `node`'s file for `session` (`size` bytes of zeros): a landing for `dest`
    /// beneath `push_dir`, or a relay's store.
    pub(crate) fn create(
        &mut self,
        (node, session): (usize, SessionHash),
        dest: String,
        push_dir: Option<String>,
        relay_only: bool,
        size: u64,
    ) -> Result<(), PushIoError> {
        if !relay_only && push_dir.is_none() {
            return Err(PushIoError {
                code: "push-dir-denied".into(),
                text: format!("{dest}: no push dir of the policy holds it"),
            });
        }
        let bytes = vec![0; usize::try_from(size).map_err(|_| io_err("file too large"))?];
        let file = PushFile {
            dest,
            relay_only,
            bytes,
        };
        self.files.insert((node, session), file);
        Ok(())
    }

    /// Writes `bytes` at `offset` of the session's file.
    pub(crate) fn write(
        &mut self,
        key: (usize, SessionHash),
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), PushIoError> {
        let f = self
            .files
            .get_mut(&key)
            .ok_or_else(|| io_err("no temporary file for this push"))?;
        let at = usize::try_from(offset).map_err(|_| io_err("offset out of range"))?;
        let end = at.checked_add(bytes.len());
        let slot = end
            .and_then(|end| f.bytes.get_mut(at..end))
            .ok_or_else(|| io_err("write past the end of the file"))?;
        slot.copy_from_slice(bytes);
        Ok(())
    }

    /// Reads `len` bytes at `offset` of the session's file.
    pub(crate) fn read(
        &self,
        key: (usize, SessionHash),
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, PushIoError> {
        let f = self
            .files
            .get(&key)
            .ok_or_else(|| io_err("no file for this push"))?;
        let at = usize::try_from(offset).map_err(|_| io_err("offset out of range"))?;
        let len = usize::try_from(len).map_err(|_| io_err("length out of range"))?;
        at.checked_add(len)
            .and_then(|end| f.bytes.get(at..end))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| io_err("read past the end of the file"))
    }

    /// Commits the session's file over its DEST (a relay has nothing to commit).
    pub(crate) fn commit(&mut self, key: (usize, SessionHash)) -> Result<(), PushIoError> {
        let f = self
            .files
            .get(&key)
            .ok_or_else(|| io_err("nothing to commit"))?;
        if f.relay_only {
            return Err(io_err("a relay commits nothing"));
        }
        self.landed.insert((key.0, f.dest.clone()), f.bytes.clone());
        Ok(())
    }

    /// The session's file goes (what was committed stays landed).
    pub(crate) fn drop_file(&mut self, key: (usize, SessionHash)) {
        self.files.remove(&key);
    }

    /// What node `node` has committed at `dest`.
    pub(crate) fn landed(&self, node: usize, dest: &str) -> Option<&[u8]> {
        self.landed
            .get(&(node, dest.to_string()))
            .map(Vec::as_slice)
    }
}
