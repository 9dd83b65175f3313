//! CSV at memory speed: the input read in large blocks of whole lines, each block cut at line
//! ends into pieces parsed in parallel; fields split and floats parsed and formatted without
//! allocating.
//!
//! Records are read as the `csv` crate reads them: `\n`, `\r\n` and a lone `\r` end a record,
//! blank lines are skipped, fields are split on commas, and a record holding a double quote is
//! handed to the `csv` crate so quoted fields keep their meaning (a quoted field may not span
//! lines). Positions in errors are the `csv` crate's too: a record is placed where the record
//! before it ended (just past the first byte of its terminator), so every line number and byte
//! offset stays what it was with the `csv` crate.

use std::io::{Read, Write};
use std::ops::Range;

use rayon::prelude::*;

use crate::gather::Progress;

/// Bytes read per block: large enough that reading costs a few system calls, small enough that
/// a streaming reader's memory stays constant.
const BLOCK_BYTES: usize = 16 << 20;

/// Bytes read for the first block; each next block is twice as large, up to [`BLOCK_BYTES`].
/// Parsing starts after a short first read, and each block is read while the one before it,
/// half its size, is parsed.
const FIRST_BLOCK_BYTES: usize = 1 << 20;

/// Smallest piece of a block parsed by one task.
const PIECE_BYTES: usize = 256 << 10;

/// Rows formatted per task when writing.
const PIECE_ROWS: usize = 16 << 10;

/// Rows formatted before their text is written out; two batches are alive at a time (one
/// written, one formatted), which bounds the memory of a write.
const BATCH_ROWS: usize = 128 << 10;

fn is_terminator(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

pub(crate) fn newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Terminator bytes between the end of the last record before a cut and the cut, not yet
/// consumed by the `csv` crate when it reads the next record: the next record's position is
/// `newlines` lines and `bytes` bytes before the cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    newlines: u64,
    bytes: u64,
}

/// What is pending at `cut` in `data`, given what was pending at `data`'s start.
fn pending_at(data: &[u8], cut: usize, before: Pending) -> Pending {
    match data[..cut].iter().rposition(|&b| !is_terminator(b)) {
        // The first terminator byte after the record's text is consumed with it.
        Some(text_end) => {
            let from = (text_end + 2).min(cut);
            Pending { newlines: newlines(&data[from..cut]), bytes: (cut - from) as u64 }
        }
        None => {
            Pending { newlines: before.newlines + newlines(&data[..cut]), bytes: before.bytes + cut as u64 }
        }
    }
}

/// Where a block starts in the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start {
    /// 1-based line of the block's first byte.
    pub(crate) line: u64,
    /// Byte offset of the block's first byte.
    pub(crate) byte: u64,
    /// Records (the header included) before the block.
    pub(crate) records: u64,
    /// Terminators pending at the block's start.
    pending: Pending,
}

/// A record's position as the `csv` crate reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// 1-based line.
    pub(crate) line: u64,
    /// Byte offset.
    pub(crate) byte: u64,
    /// 0-based record index (the header is record 0).
    pub(crate) record: u64,
}

/// Reads `R` in blocks that end at a line end (the last may not).
pub(crate) struct Blocks<R> {
    input: R,
    buf: Vec<u8>,
    /// Bytes of `buf` handed out by the last call.
    consumed: usize,
    eof: bool,
    /// Where `buf` starts.
    start: Start,
    /// The input's size, when known.
    size: Option<u64>,
    /// The room the block after the one being handed out is read into.
    spare: Vec<u8>,
    /// Where the whole lines of `buf` end when it was read ahead (or why reading failed).
    read_ahead: Option<std::io::Result<usize>>,
    /// Bytes the next block is read to.
    next_block_bytes: usize,
}

impl<R: Read> Blocks<R> {
    pub(crate) fn new(input: R) -> Self {
        Self {
            input,
            buf: Vec::new(),
            consumed: 0,
            eof: false,
            start: Start { line: 1, byte: 0, records: 0, pending: Pending::default() },
            size: None,
            spare: Vec::new(),
            read_ahead: None,
            next_block_bytes: FIRST_BLOCK_BYTES,
        }
    }

    /// Records the input's size (a file's length), for [`Blocks::progress`], and gives both
    /// block buffers the largest block's room at once: grown block by block, each larger buffer
    /// would be fresh memory to fault in again (only the bytes read are ever touched). Inputs of
    /// unknown size (in-memory readers, pipes) grow their buffers as they go instead, as small
    /// inputs then stay small (16 MiB each is cheap to reserve, not to poison under a sanitizer).
    pub(crate) fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self.buf.reserve(BLOCK_BYTES);
        self.spare.reserve(BLOCK_BYTES);
        self
    }

    /// Bytes handed out so far, and the input's size when known.
    pub(crate) fn progress(&self) -> Progress {
        Progress { read: self.start.byte + self.consumed as u64, total: self.size }
    }

    /// The first record (without its terminator); `None` for an input of blank lines only.
    /// The next block starts after it.
    pub(crate) fn header(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        while let Some((block, _)) = self.next_block()? {
            let Some(from) = block.iter().position(|&b| !is_terminator(b)) else { continue };
            let end =
                block[from..].iter().position(|&b| is_terminator(b)).map_or(block.len(), |at| from + at);
            let header = block[from..end].to_vec();
            self.consumed = (end + 1).min(block.len());
            self.start.records = 1;
            return Ok(Some(header));
        }
        Ok(None)
    }

    /// The next block of whole lines and where it starts, or `None` at the end of the input.
    pub(crate) fn next_block(&mut self) -> std::io::Result<Option<(&[u8], Start)>> {
        self.advance();
        let end = match self.read_ahead.take() {
            Some(end) => end?,
            None => {
                let size = self.grow();
                fill(&mut self.input, &mut self.buf, &mut self.eof, size)?
            }
        };
        self.consumed = end;
        Ok((end > 0).then_some((&self.buf[..end], self.start)))
    }

    /// Drops the bytes handed out, keeping `start` right.
    fn advance(&mut self) {
        let done = &self.buf[..self.consumed];
        self.start.pending = pending_at(done, done.len(), self.start.pending);
        self.start.line += newlines(done);
        self.start.byte += done.len() as u64;
        self.buf.drain(..self.consumed);
        self.consumed = 0;
    }

    /// The size of the block to read next.
    fn grow(&mut self) -> usize {
        let size = self.next_block_bytes;
        self.next_block_bytes = (2 * size).min(BLOCK_BYTES);
        size
    }
}

impl Blocks<std::fs::File> {
    /// Opens the file at `path`, its length recorded for [`Blocks::progress`].
    pub(crate) fn open(path: &std::path::Path) -> crate::Result<Self> {
        let io_error = |source| crate::Error::Io { path: path.to_owned(), source };
        let file = std::fs::File::open(path).map_err(io_error)?;
        let size = file.metadata().map_err(io_error)?.len();
        Ok(Self::new(file).with_size(size))
    }
}

impl<R: Read + Send> Blocks<R> {
    /// `f` of the next block of whole lines and where it starts, or `None` at the end of the
    /// input; the block after it is read while `f` runs (reading from the page cache is a
    /// memory copy, and otherwise a serial stretch between parallel parses). A failure to read
    /// ahead is returned by the next call, after `f`'s result.
    pub(crate) fn map_next<T: Send>(
        &mut self,
        f: impl FnOnce(&[u8], Start) -> T + Send,
    ) -> std::io::Result<Option<T>> {
        let Some((block, start)) = self.next_block()? else { return Ok(None) };
        let end = block.len();
        self.spare.clear();
        self.spare.extend_from_slice(&self.buf[end..]);
        let size = self.grow();
        let (input, spare, eof) = (&mut self.input, &mut self.spare, &mut self.eof);
        let (ahead, value) = rayon::join(|| fill(input, spare, eof, size), || f(&self.buf[..end], start));
        // The block after this one is in `spare`: it becomes `buf`, this block handed out.
        self.buf.truncate(end);
        self.advance();
        std::mem::swap(&mut self.buf, &mut self.spare);
        self.read_ahead = Some(ahead);
        Ok(Some(value))
    }
}

/// The longest line read: no record of these formats comes near it, and an input without line
/// ends (a binary file, `/dev/zero`) must end in an error, not take the memory.
const MAX_LINE_BYTES: usize = 64 << 20;

/// Reads `input` into `buf` until it holds `size` bytes (or the input ends, setting `eof`);
/// returns where the block's whole lines end: after the last line end, or at the end of the
/// input. A line longer than a block is read on until it ends, up to [`MAX_LINE_BYTES`]
/// (`InvalidData` past it).
fn fill(input: &mut impl Read, buf: &mut Vec<u8>, eof: &mut bool, size: usize) -> std::io::Result<usize> {
    let mut wanted = size;
    loop {
        if !*eof && buf.len() < wanted {
            let missing = (wanted - buf.len()) as u64;
            // Reserved at once: `read_to_end` through `take` would grow the buffer step by step.
            buf.reserve(wanted - buf.len());
            let read = input.take(missing).read_to_end(buf)?;
            *eof = (read as u64) < missing;
        }
        if *eof {
            return Ok(buf.len());
        }
        match memchr::memrchr(b'\n', buf) {
            Some(at) => return Ok(at + 1),
            None if buf.len() >= MAX_LINE_BYTES => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a line is longer than {} MiB: not a CSV file", MAX_LINE_BYTES >> 20),
                ));
            }
            None => wanted = (buf.len() * 2).min(MAX_LINE_BYTES),
        }
    }
}

impl<R> Blocks<R> {
    /// Counts the records of the block just handed out (called by the reader once parsed).
    pub(crate) fn count_records(&mut self, records: u64) {
        self.start.records += records;
    }
}

/// A problem with one record, told once its position is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// What is wrong, in words.
    Text(String),
    /// A record with another number of fields than the header (the `csv` crate's own error).
    FieldCount {
        /// Fields found.
        found: usize,
        /// The header's fields.
        expected: usize,
    },
    /// A field that is not UTF-8 text (the `csv` crate's own error).
    Utf8 {
        /// 0-based field.
        field: usize,
        /// Bytes of valid text before the bad one.
        valid_up_to: usize,
    },
}

impl From<String> for Problem {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl Problem {
    /// The message, placed at `at`.
    pub(crate) fn message(self, at: Position) -> String {
        match self {
            Self::Text(text) => text,
            Self::FieldCount { found, expected } => format!(
                "CSV error: record {} (line: {}, byte: {}): found record with {found} fields, but the previous record has {expected} fields",
                at.record, at.line, at.byte
            ),
            Self::Utf8 { field, valid_up_to } => format!(
                "CSV parse error: record {} (line {}, field: {field}, byte: {}): invalid utf-8: invalid UTF-8 in field {field} near byte index {valid_up_to}",
                at.record, at.line, at.byte
            ),
        }
    }
}

/// A record's position within a piece: relative to the piece's start (which may go back before
/// it, into terminators pending there) and its index among the piece's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RelativePosition {
    newlines: i64,
    bytes: i64,
    record: u64,
}

impl RelativePosition {
    /// Line ends from the piece's start to the record (negative when the record starts in
    /// terminators pending before the piece).
    pub(crate) fn newlines(&self) -> i64 {
        self.newlines
    }
}

/// What [`Piece::for_each_plain_record_or`] saw.
#[derive(Debug, Default)]
pub(crate) struct PieceLines {
    /// Line ends (`\n`) in the piece.
    pub(crate) newlines: u64,
    /// Records in the piece.
    pub(crate) records: u64,
    /// The first problem, and where.
    pub(crate) error: Option<(RelativePosition, Problem)>,
}

/// A piece of a block: whole lines, and what was pending at its start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece<'a> {
    /// The bytes.
    pub(crate) bytes: &'a [u8],
    /// Terminators pending at its start.
    pending: Pending,
    /// Whether every byte is ASCII (then every record is text).
    ascii: bool,
    /// Whether a double quote occurs (else no record needs the `csv` crate's unquoting).
    quoted: bool,
}

impl<'a> Piece<'a> {
    fn new(bytes: &'a [u8], pending: Pending) -> Self {
        Self { bytes, pending, ascii: bytes.is_ascii(), quoted: memchr::memchr(b'"', bytes).is_some() }
    }

    /// Refuses a record of this piece that is not UTF-8 text, as the `csv` crate does for text
    /// records (checked per record only when the piece is not all ASCII).
    pub(crate) fn check_utf8(&self, fields: &[&[u8]]) -> Result<(), Problem> {
        if self.ascii {
            return Ok(());
        }
        for (field, bytes) in fields.iter().enumerate() {
            if let Err(e) = std::str::from_utf8(bytes) {
                return Err(Problem::Utf8 { field, valid_up_to: e.valid_up_to() });
            }
        }
        Ok(())
    }

    /// Calls `record(rows, position, fields)` for every record of the piece, stopping at the
    /// first problem; but in an all-ASCII piece each unquoted record is first offered whole (its
    /// line, without the terminator) to `plain`, which takes it (`true`) or leaves it untouched
    /// (`false`); only the records it leaves are split into fields and passed to `record`.
    /// `plain` is a reader's fast path: it takes a record only where `record` would accept it
    /// with the same effect, so the general path still decides (and names) every problem. Both
    /// work on `rows`, what the reader builds.
    pub(crate) fn for_each_plain_record_or<S>(
        &self,
        rows: &mut S,
        mut plain: impl FnMut(&mut S, RelativePosition, &[u8]) -> bool,
        mut record: impl FnMut(&mut S, RelativePosition, &[&[u8]]) -> Result<(), Problem>,
    ) -> PieceLines {
        let mut fields: Vec<&'a [u8]> = Vec::new();
        let mut outcome = PieceLines::default();
        let bytes = self.bytes;
        let mut at = RelativePosition {
            newlines: -(self.pending.newlines as i64),
            bytes: -(self.pending.bytes as i64),
            record: 0,
        };
        let mut from = 0;
        while from < bytes.len() {
            let end = memchr::memchr2(b'\n', b'\r', &bytes[from..]).map_or(bytes.len(), |e| from + e);
            let line = &bytes[from..end];
            if !line.is_empty() {
                let quoted = self.quoted && memchr::memchr(b'"', line).is_some();
                let result = if !quoted && self.ascii && plain(rows, at, line) {
                    Ok(())
                } else if quoted {
                    quoted_fields(line).and_then(|owned| {
                        let borrowed: Vec<&[u8]> = owned.iter().collect();
                        record(rows, at, &borrowed)
                    })
                } else {
                    fields.clear();
                    fields.extend(line.split(|&b| b == b','));
                    record(rows, at, &fields)
                };
                if let Err(problem) = result {
                    outcome.error = Some((at, problem));
                    return outcome;
                }
                outcome.records += 1;
                // The record's first terminator byte is consumed with it.
                outcome.newlines += u64::from(bytes.get(end) == Some(&b'\n'));
                from = (end + 1).min(bytes.len());
                at = RelativePosition {
                    newlines: outcome.newlines as i64,
                    bytes: from as i64,
                    record: outcome.records,
                };
            } else {
                outcome.newlines += u64::from(bytes.get(end) == Some(&b'\n'));
                from = end + 1;
            }
        }
        outcome
    }
}

impl Start {
    /// The absolute position of a record at `at` in a piece starting here.
    pub(crate) fn position(&self, at: RelativePosition) -> Position {
        Position {
            line: self.line.saturating_add_signed(at.newlines),
            byte: self.byte.saturating_add_signed(at.bytes),
            record: self.records + at.record,
        }
    }
}

/// The fields of one record with quotes, as the `csv` crate reads them.
fn quoted_fields(line: &[u8]) -> Result<csv::ByteRecord, Problem> {
    if memchr::memchr_iter(b'"', line).count() % 2 == 1 {
        return Err(Problem::Text("a quoted field spans lines (not supported)".into()));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line);
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(_) => Ok(record),
        Err(e) => Err(Problem::Text(e.to_string())),
    }
}

/// Cuts `block` into pieces of whole lines, enough for every core to get several.
fn pieces(block: &[u8], pending: Pending) -> Vec<Piece<'_>> {
    let target = (block.len() / (4 * rayon::current_num_threads())).max(PIECE_BYTES);
    let mut pieces = Vec::with_capacity(block.len() / target + 1);
    let mut start = 0;
    while start < block.len() {
        let rest = &block[start..];
        let cut = if rest.len() <= target {
            rest.len()
        } else {
            memchr::memchr(b'\n', &rest[target..]).map_or(rest.len(), |at| target + at + 1)
        };
        let piece_pending = if start == 0 { pending } else { pending_at(block, start, pending) };
        pieces.push(Piece::new(&rest[..cut], piece_pending));
        start += cut;
    }
    pieces
}

/// A parsed piece and where it starts.
pub(crate) struct Parsed<T> {
    /// Where the piece starts in the input.
    pub(crate) start: Start,
    /// What `parse` returned.
    pub(crate) value: T,
    /// What the piece held.
    pub(crate) lines: PieceLines,
}

impl<T> Parsed<T> {
    /// The piece's first problem, placed in the input.
    pub(crate) fn error(&mut self) -> Option<(Position, String)> {
        let (at, problem) = self.lines.error.take()?;
        let position = self.start.position(at);
        Some((position, problem.message(position)))
    }
}

/// Parses every piece of a block (which starts at `start`) with `parse` in parallel; results in
/// input order.
pub(crate) fn parse_block<T: Send>(
    block: &[u8],
    start: Start,
    parse: impl Fn(Piece<'_>) -> (T, PieceLines) + Sync,
) -> Vec<Parsed<T>> {
    let parsed: Vec<(usize, T, PieceLines)> = pieces(block, start.pending)
        .into_par_iter()
        .map(|piece| {
            let (value, lines) = parse(piece);
            (piece.bytes.len(), value, lines)
        })
        .collect();
    let mut at = start;
    parsed
        .into_iter()
        .map(|(len, value, lines)| {
            let here = at;
            at.line += lines.newlines;
            at.byte += len as u64;
            at.records += lines.records;
            Parsed { start: here, value, lines }
        })
        .collect()
}

/// A field as text (invalid UTF-8 replaced, as in error messages). Valid text, the rule, is
/// checked by `from_utf8`, whose ASCII fast path is several times faster than the lossy scan.
pub(crate) fn lossy(field: &[u8]) -> std::borrow::Cow<'_, str> {
    std::str::from_utf8(field).map_or_else(|_| String::from_utf8_lossy(field), std::borrow::Cow::Borrowed)
}

/// Parses a float exactly as `str::parse::<f64>` does after trimming whitespace (the same
/// accepted forms, the same bits): on the bytes with fast-float's Eisel-Lemire algorithm, and
/// through std for what it refuses (surrounding whitespace, or no number at all).
pub(crate) fn parse_f64(field: &[u8]) -> Option<f64> {
    fast_float2::parse(field).ok().or_else(|| std::str::from_utf8(field).ok()?.trim().parse().ok())
}

/// Appends `v` as Rust's `{:?}` writes it: the shortest form that parses back to the same bits,
/// in exponent form below 1e-4 and from 1e16 (`1e300`, `1.5e-7`), `NaN`, `inf`, `-inf`, `-0.0`.
///
/// Żmij finds the same shortest digits as Rust several times faster, except that when the
/// value lies exactly halfway between two shortest candidates Żmij rounds to even and Rust up:
/// those ties (found exactly, with integers), the exponent forms and the special values go
/// through Rust's own formatting.
pub(crate) fn push_shortest(out: &mut Vec<u8>, v: f64) {
    if !(1e-4..1e16).contains(&v.abs()) {
        // Infallible: writing to a Vec.
        let _ = write!(out, "{v:?}");
        return;
    }
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(v).as_bytes();
    match plain_decimals(text, v.abs()) {
        Some(decimals) if !is_tie(v.abs(), text, decimals.unwrap_or(0)) => {
            out.extend_from_slice(text);
            if decimals.is_none() {
                out.extend_from_slice(b".0");
            }
        }
        // Exponent form, or a tie.
        _ => {
            let _ = write!(out, "{v:?}");
        }
    }
}

/// The digits after the point of `abs` (in [1e-4, 1e16)) formatted as `text` (`Some(None)`
/// without a point), `None` in exponent form. Żmij writes that range in plain form, the point
/// right after the integer digits (`0.` below 1): the point is looked for there first, since
/// the shortest digits of a double below `10^k` never reach `10^k` (an exact double). The scan is
/// the fallback, one byte at a time on purpose: the text was just stored by wide writes, and wide
/// loads across them stall (store forwarding).
fn plain_decimals(text: &[u8], abs: f64) -> Option<Option<usize>> {
    let sign = usize::from(text.first() == Some(&b'-'));
    // `as` truncates; below 1 the integer part is the single `0`.
    let point = sign + (abs as u64).checked_ilog10().map_or(1, |digits| digits as usize + 1);
    if text.get(point) == Some(&b'.') && (abs >= 1.0 || text.get(sign) == Some(&b'0')) {
        return Some(Some(text.len() - point - 1));
    }
    let mut point = None;
    for (at, &b) in text.iter().enumerate() {
        match b {
            b'.' => point = Some(at),
            b'e' | b'E' => return None,
            _ => {}
        }
    }
    Some(point.map(|at| text.len() - at - 1))
}

/// Whether `abs` (in [1e-4, 1e16)) lies exactly halfway between the shortest decimal `text`
/// (plain digits with an optional point and `decimals` digits after it, no exponent) and its
/// neighbour one unit in the last digit away, i.e. equals `(10 * digits +- 5) * 10^p` for `p`
/// one place past the last digit.
fn is_tie(abs: f64, text: &[u8], decimals: usize) -> bool {
    let (mantissa, exponent) = odd_mantissa(abs);
    if exponent < -(decimals as i32) - 1 {
        // Binary digits below the tie's last decimal place (one past the text's): the common
        // case, decided without reading the digits.
        return false;
    }
    let (significand, unit) = significand(text);
    [significand * 10 + 5, significand * 10 - 5]
        .into_iter()
        .any(|n| equals_decimal(mantissa, exponent, n, unit - 1))
}

/// `abs` as `mantissa * 2^exponent` with an odd mantissa (`abs` finite and non-zero).
fn odd_mantissa(abs: f64) -> (u64, i32) {
    let bits = abs.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) =
        if biased == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased - 1075) };
    let zeros = mantissa.trailing_zeros();
    (mantissa >> zeros, exponent + zeros as i32)
}

/// The digits of a plain decimal (`123.45`, `0.001`, `100.0`) without trailing zeros, as an
/// integer, and the exponent of its last digit's unit.
fn significand(text: &[u8]) -> (u64, i32) {
    let text = text.strip_prefix(b"-").unwrap_or(text);
    let point = text.iter().position(|&b| b == b'.').unwrap_or(text.len());
    let mut digits =
        text.iter().filter(|b| b.is_ascii_digit()).fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
    let mut unit = -((text.len() - point).saturating_sub(1) as i32);
    while digits != 0 && digits % 10 == 0 {
        digits /= 10;
        unit += 1;
    }
    (digits, unit)
}

/// Whether `mantissa * 2^exponent == n * 10^p` exactly (`mantissa` odd).
fn equals_decimal(mantissa: u64, exponent: i32, n: u64, p: i32) -> bool {
    let shifted = |value: u128, shift: i32| {
        (shift >= 0 && value.leading_zeros() >= shift as u32).then(|| value << shift)
    };
    if exponent < p.min(0) {
        // Binary digits below the decimal's last place: never equal (the common case).
        return false;
    }
    if p >= 0 {
        let decimal = 10u128.checked_pow(p as u32).and_then(|power| power.checked_mul(u128::from(n)));
        decimal.is_some() && shifted(u128::from(mantissa), exponent) == decimal
    } else {
        // m * 2^e * 10^-p == n, i.e. m * 5^-p * 2^(e - p) == n: an integer only when e >= p.
        let odd =
            5u128.checked_pow(p.unsigned_abs()).and_then(|power| power.checked_mul(u128::from(mantissa)));
        odd.and_then(|odd| shifted(odd, exponent - p)) == Some(u128::from(n))
    }
}

/// Appends an integer in decimal.
pub(crate) fn push_i64(out: &mut Vec<u8>, n: i64) {
    let mut buffer = [0u8; 20];
    let mut at = buffer.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        buffer[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buffer[at..]);
}

/// Writes the rows of pieces holding `rows[p]` rows each, in order: `format(p, rows, text)`
/// appends the text of a range of piece `p`'s rows; ranges are formatted in parallel and written
/// in order, a bounded batch at a time. While one batch is written (on a writer thread), the
/// next is formatted.
///
/// # Errors
/// Whatever `out` returns.
pub(crate) fn write_rows(
    out: &mut (dyn Write + Send),
    rows: &[usize],
    format: impl Fn(usize, Range<usize>, &mut Vec<u8>) + Sync,
) -> std::io::Result<()> {
    let tasks: Vec<(usize, Range<usize>)> = rows
        .iter()
        .enumerate()
        .flat_map(|(piece, &rows)| {
            (0..rows).step_by(PIECE_ROWS).map(move |start| (piece, start..(start + PIECE_ROWS).min(rows)))
        })
        .collect();
    let mut batches = tasks.chunks(BATCH_ROWS / PIECE_ROWS);
    if batches.len() <= 1 {
        let mut texts = Vec::new();
        return batches.try_for_each(|batch| {
            format_batch(batch, &mut texts, &format);
            texts.iter().try_for_each(|text| out.write_all(text))
        });
    }
    std::thread::scope(|scope| {
        let (to_writer, formatted) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(0);
        let (to_formatter, written) = std::sync::mpsc::channel();
        let writer = scope.spawn(move || {
            for texts in formatted {
                texts.iter().try_for_each(|text| out.write_all(text))?;
                // The formatter may be done; then the buffers are simply dropped.
                let _ = to_formatter.send(texts);
            }
            Ok(())
        });
        // Two sets of buffers take turns, reused: fresh ones would cost a page fault per 4 KiB.
        let mut free = vec![Vec::new(), Vec::new()];
        for batch in batches {
            // No buffers back: the writer stopped on an error, which `join` returns.
            let Some(mut texts) = free.pop().or_else(|| written.recv().ok()) else { break };
            format_batch(batch, &mut texts, &format);
            if to_writer.send(texts).is_err() {
                break;
            }
        }
        drop(to_writer);
        writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Formats a batch of `(piece, rows)` ranges in parallel, one text each into `texts`.
fn format_batch(
    batch: &[(usize, Range<usize>)],
    texts: &mut Vec<Vec<u8>>,
    format: &(impl Fn(usize, Range<usize>, &mut Vec<u8>) + Sync),
) {
    if texts.len() < batch.len() {
        texts.resize_with(batch.len(), || Vec::with_capacity(PIECE_ROWS * 64));
    }
    texts.truncate(batch.len());
    texts.par_iter_mut().zip(batch).for_each(|(text, (piece, range))| {
        text.clear();
        format(*piece, range.clone(), text);
    });
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn shortest(v: f64) -> String {
        let mut out = Vec::new();
        push_shortest(&mut out, v);
        String::from_utf8(out).expect("ASCII")
    }

    /// A writer that fails once it has taken `limit` bytes.
    struct FailingAfter {
        taken: Vec<u8>,
        limit: usize,
    }

    impl Write for FailingAfter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.taken.len() + buf.len() > self.limit {
                return Err(std::io::Error::other("disk full"));
            }
            self.taken.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 16: rows written while the next batch is formatted (several batches, on the writer
    /// thread) arrive whole and in order, and a failing write is the error, without a hang.
    #[test]
    fn rows_written_behind_the_formatting_arrive_in_order_and_a_failed_write_is_the_error() {
        let rows = [BATCH_ROWS + 7, 3, 2 * BATCH_ROWS + 1];
        let format = |piece: usize, range: Range<usize>, text: &mut Vec<u8>| {
            range.for_each(|row| text.extend_from_slice(format!("{piece}:{row}\n").as_bytes()));
        };
        let expected: String = rows
            .iter()
            .enumerate()
            .flat_map(|(p, &n)| (0..n).map(move |row| format!("{p}:{row}\n")))
            .collect();
        let mut out = FailingAfter { taken: Vec::new(), limit: usize::MAX };
        write_rows(&mut out, &rows, format).expect("in memory");
        assert!(out.taken == expected.as_bytes(), "rows lost or out of order");
        let mut full = FailingAfter { taken: Vec::new(), limit: expected.len() / 2 };
        let error = write_rows(&mut full, &rows, format).expect_err("the disk fills up");
        assert_eq!(error.to_string(), "disk full");
        assert!(expected.as_bytes().starts_with(&full.taken));
    }

    #[test]
    fn shortest_matches_debug_formatting_at_the_edges() {
        for v in [
            0.1,
            1.0,
            -1.0,
            1e-4,
            9.999e-5,
            1e16,
            9_999_999_999_999_998.0,
            1e15,
            123.456,
            1e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            100.0,
            1234567.0,
            0.000123,
            1.5e-7,
            636_576_294_787_161.0 + 0.25,
            1_907_187_089_675_632.0 + 0.25,
        ] {
            assert_eq!(shortest(v), format!("{v:?}"), "{v:e}");
        }
        // Where the point's place is computed: either side of every power of ten in the plain range.
        for k in -4..=16 {
            let power = 10f64.powi(k);
            for v in [power.next_down(), power, power.next_up()] {
                assert_eq!(shortest(v), format!("{v:?}"), "{v:e}");
                assert_eq!(shortest(-v), format!("{:?}", -v), "{:e}", -v);
            }
        }
    }

    #[test]
    fn parsing_accepts_what_std_accepts_after_trimming() {
        assert_eq!(parse_f64(b"12.5"), Some(12.5));
        assert_eq!(parse_f64(b"-0.0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(parse_f64(b"1e5"), Some(1e5));
        assert_eq!(parse_f64(b"0.30471707975443135"), Some(0.304_717_079_754_431_35));
        assert_eq!(parse_f64(b" inf "), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"."), None);
        assert_eq!(parse_f64(b"-"), None);
        assert_eq!(parse_f64(b""), None);
    }

    #[test]
    fn blocks_and_pieces_end_at_line_ends_and_cover_the_input() {
        let text: String = (0..3_000_000).map(|i| format!("{i},{}\n", i * 7)).collect();
        let text = format!("{text}last,line");
        let mut blocks = Blocks::new(text.as_bytes());
        let mut joined = Vec::new();
        let mut blocks_seen = 0;
        let mut lines = 1;
        let mut handed_out = |block: &[u8], start: Start| {
            assert_eq!((start.byte, start.line), (joined.len() as u64, lines));
            assert!(block.ends_with(b"\n") || block.ends_with(b"line"));
            for piece in pieces(block, start.pending) {
                assert!(piece.bytes.ends_with(b"\n") || piece.bytes.ends_with(b"line"));
                joined.extend_from_slice(piece.bytes);
            }
            lines += newlines(block);
        };
        // Blocks handed out alone, then with the next read ahead, then alone again.
        for read_ahead in [false, true, true, false] {
            let more = if read_ahead {
                blocks.map_next(|block, start| handed_out(block, start)).expect("in memory")
            } else {
                blocks.next_block().expect("in memory").map(|(block, start)| handed_out(block, start))
            };
            blocks_seen += usize::from(more.is_some());
        }
        while blocks.map_next(|block, start| handed_out(block, start)).expect("in memory").is_some() {
            blocks_seen += 1;
        }
        assert!(blocks_seen > 2, "the input spans several blocks");
        assert_eq!(joined, text.as_bytes());
    }

    /// Hands out its text, then fails.
    struct FailsAfter<'a>(&'a [u8]);

    impl Read for FailsAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk gone"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A block read ahead fails while the block before it is parsed: that block is handed out
    /// first, then the failure is the error (errors in input order, nothing read is dropped).
    #[test]
    fn a_failed_read_ahead_is_the_error_after_the_block_before_it() {
        let text: String = (0..400_000).map(|i| format!("{i},{}\n", i * 7)).collect();
        let mut blocks = Blocks::new(FailsAfter(text.as_bytes()));
        let mut handed_out = Vec::new();
        let error = loop {
            match blocks.map_next(|block, start| (start.byte, block.len())) {
                Ok(Some(block)) => handed_out.push(block),
                Ok(None) => panic!("the input ends in an error, not cleanly"),
                Err(error) => break error,
            }
        };
        assert_eq!(error.to_string(), "disk gone");
        // The 1 MiB and 2 MiB blocks (cut at line ends), one after the other.
        assert_eq!(handed_out.len(), 2, "{handed_out:?}");
        assert_eq!(handed_out[1].0, handed_out[0].1 as u64);
        assert!(handed_out[0].1 > (1 << 20) - 20 && handed_out[1].1 > (2 << 20) - 20, "{handed_out:?}");
    }

    /// Regression: an input without line ends was read on whole (a 100 MB line took 700 MB,
    /// `/dev/zero` all the memory).
    #[test]
    fn an_endless_line_is_an_error_after_max_line_bytes() {
        let mut blocks = Blocks::new(std::io::repeat(b'a'));
        let error = blocks.next_block().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("longer than 64 MiB"), "{error}");
        // a line just under the limit is still one block
        let line = vec![b'a'; MAX_LINE_BYTES - 1];
        let mut blocks = Blocks::new(&line[..]);
        assert_eq!(blocks.next_block().unwrap().map(|(block, _)| block.len()), Some(line.len()));
    }

    #[test]
    fn records_split_on_commas_skip_blank_lines_and_unquote() {
        let record = |seen: &mut Vec<Vec<String>>, _, fields: &[&[u8]]| {
            seen.push(fields.iter().map(|f| lossy(f).into_owned()).collect());
            Ok(())
        };
        let piece = Piece::new(b"a,b\r\n\n\"x,y\",\"q\"\"\"\rlast", Pending::default());
        let mut seen = Vec::new();
        let lines = piece.for_each_plain_record_or(&mut seen, |_, _, _| false, record);
        assert_eq!((lines.newlines, lines.records), (2, 3));
        assert!(lines.error.is_none());
        assert_eq!(seen, [vec!["a", "b"], vec!["x,y", "q\""], vec!["last"]]);
        // The fast path is offered unquoted lines of ASCII pieces only; what it takes is not split.
        let cases: [(&[u8], u64, &[&str]); 2] =
            [(b"a,b\n\"x\",y\nlast", 3, &["a,b", "last"]), ("\u{e9},b\nlast".as_bytes(), 2, &[])];
        for (text, records, offered) in cases {
            let (mut seen, mut lines_offered) = (Vec::new(), Vec::new());
            let plain = |seen: &mut Vec<Vec<String>>, _, line: &[u8]| {
                lines_offered.push(lossy(line).into_owned());
                seen.push(vec!["taken".to_owned()]);
                true
            };
            let lines =
                Piece::new(text, Pending::default()).for_each_plain_record_or(&mut seen, plain, record);
            assert_eq!(
                (lines.records, lines_offered.iter().map(String::as_str).collect::<Vec<_>>().as_slice()),
                (records, offered)
            );
            assert_eq!(seen.iter().filter(|fields| fields[0] == "taken").count(), offered.len());
            assert_eq!(seen.len() as u64, records);
        }
        let piece = Piece::new(b"1\n2\n3\n", Pending::default());
        let failed = piece.for_each_plain_record_or(
            &mut (),
            |(), _, _| false,
            |(), _, fields| if fields[0] == b"2" { Err(Problem::Text("two".into())) } else { Ok(()) },
        );
        let (at, problem) = failed.error.expect("an error");
        assert_eq!((at.newlines, at.bytes, at.record, problem), (1, 2, 1, Problem::Text("two".into())));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn shortest_is_debug_formatting_for_any_bits(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assert_eq!(shortest(v), format!("{v:?}"));
        }

        #[test]
        fn shortest_is_debug_formatting_in_the_decimal_range(v in -1e17f64..1e17, scale in 0i32..24, whole in any::<i32>()) {
            let v = v / 10f64.powi(scale);
            prop_assert_eq!(shortest(v), format!("{v:?}"));
            let whole = f64::from(whole) / 10f64.powi(scale % 4);
            prop_assert_eq!(shortest(whole), format!("{whole:?}"));
        }

        #[test]
        fn parsing_accepts_and_refuses_what_std_does(
            text in "[ +-]{0,2}[0-9.eE+-]{0,14}[ ]?|[ ]?[+-]?(inf|infinity|nan|INF|NaN|Infinity|in|nana|infinit)[ ]?"
        ) {
            let expected = text.trim().parse::<f64>().ok().map(f64::to_bits);
            prop_assert_eq!(parse_f64(text.as_bytes()).map(f64::to_bits), expected, "{:?}", text);
        }

        #[test]
        fn parsing_is_std_parsing(mantissa in any::<i64>(), scale in 0u32..30, style in 0u8..4) {
            let text = match style {
                0 => format!("{}", mantissa as f64 / 10f64.powi(scale as i32)),
                1 => format!("{mantissa}"),
                2 => format!("{}.{:0>width$}", mantissa / 1000, (mantissa % 1000).unsigned_abs(), width = scale as usize),
                _ => format!("{}e-{scale}", mantissa % 100_000),
            };
            let expected = text.parse::<f64>().ok().map(f64::to_bits);
            prop_assert_eq!(parse_f64(text.as_bytes()).map(f64::to_bits), expected, "{}", text);
        }
    }
}
