//! Reading an audit log line by line with a length cap, keeping byte offsets and noticing a
//! last line without its `\n` (a write torn by a crash).

use std::io::{self, BufRead, Read};

use mon_proto::audit::MAX_LINE_BYTES;

/// One line of the file.
#[derive(Debug)]
pub struct RawLine {
    /// 1-based line number.
    pub no: usize,
    /// Byte offset of the line's first byte.
    pub start: u64,
    /// The line without its `\n` (empty if `too_long`).
    pub bytes: Vec<u8>,
    /// False for a last line that does not end in `\n`.
    pub complete: bool,
    /// The line is longer than [`MAX_LINE_BYTES`]; its bytes were skipped.
    pub too_long: bool,
}

/// Iterates over the lines of a reader; see [`RawLine`].
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    no: usize,
    offset: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Reads lines from `inner`, from its current position (taken as offset 0).
    pub fn new(inner: R) -> LineReader<R> {
        LineReader {
            inner,
            no: 0,
            offset: 0,
        }
    }

    /// The next line, `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<RawLine>> {
        let start = self.offset;
        let limit = MAX_LINE_BYTES as u64 + 1; // the line and its '\n'
        let mut bytes = Vec::new();
        let n = Read::by_ref(&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut bytes)?;
        if n == 0 {
            return Ok(None);
        }
        self.no += 1;
        self.offset += n as u64;
        let mut too_long = false;
        let complete = if bytes.last() == Some(&b'\n') {
            bytes.pop();
            true
        } else if n as u64 == limit {
            too_long = true;
            bytes = Vec::new();
            let skipped = self.inner.skip_until(b'\n')?;
            self.offset += skipped as u64;
            skipped > 0
        } else {
            false // end of file without '\n'
        };
        Ok(Some(RawLine {
            no: self.no,
            start,
            bytes,
            complete,
            too_long,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn all(data: &[u8]) -> Vec<RawLine> {
        let mut r = LineReader::new(data);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(l);
        }
        out
    }

    #[test]
    fn offsets_and_torn_tail() {
        let lines = all(b"ab\ncde\nf");
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (lines[1].no, lines[1].start, &lines[1].bytes[..]),
            (2, 3, &b"cde"[..])
        );
        assert!(lines[1].complete);
        assert_eq!((lines[2].start, lines[2].complete), (7, false));
        assert!(all(b"").is_empty());
        assert!(all(b"x\n")[0].complete);
    }

    #[test]
    fn overlong_line_is_skipped_and_flagged() {
        let mut data = vec![b'a'; MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nok\n");
        let lines = all(&data);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].too_long && lines[0].complete);
        assert_eq!(lines[1].start, MAX_LINE_BYTES as u64 + 11);
        assert_eq!(lines[1].bytes, b"ok");
    }
}
