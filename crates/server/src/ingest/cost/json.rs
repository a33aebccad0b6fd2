//! The cost of an OTLP JSON export request, from one pass over its bytes: strings are
//! skipped over their escapes, brackets tracked on a stack, and each key of an object
//! looked up among the fields of its message (`schema.rs`), so that every value is
//! charged as what it decodes into, and a value under a key the decoder ignores costs
//! nothing decoded. Nothing is allocated but the stack; unbalanced brackets, an
//! unterminated string or nesting deeper than serde_json parses are refused, as the
//! decoder would refuse them.
//!
//! serde buffers the whole content of an `AnyValue`, `Metric`, `NumberDataPoint` or
//! `Exemplar` object (a flattened one-of field) as its own values (`Content`, 32 bytes
//! each) before decoding it, and copies the content of such an object nested in another
//! again; each buffer lives until its object is decoded. So every value inside such an
//! object is also charged its buffer's slot, and the scan keeps the largest sum of nested
//! buffers alive at once.

use super::schema::{Field, Kind, Msg};
use super::{ALLOCATION, Refused, Tally};

/// Deeper than serde_json parses (it refuses past 128 nested arrays and objects).
const MAX_DEPTH: usize = 256;
/// A value in a buffered object: its key and value (two `Content`s), twice over for the
/// growth of their `Vec`.
const MAP_SLOT: u64 = 4 * 32;
/// A value in a buffered array: one `Content`, twice over.
const SEQ_SLOT: u64 = 2 * 32;
/// A buffered object: two spare slots and its allocation.
const MAP: u64 = 2 * 64 + ALLOCATION;
/// A buffered array: two spare slots and its allocation.
const SEQ: u64 = 2 * 32 + ALLOCATION;
/// The longest field name (all are ASCII).
const NAME: usize = 32;

/// An open object or array.
struct Frame {
    /// An object (else an array).
    object: bool,
    /// Objects: the message it decodes into, or `None` when the decoder ignores it.
    msg: Option<Msg>,
    /// Objects: the field of the last key; arrays: the repeated field of their elements.
    field: Option<&'static Field>,
    /// Objects: the next string is a key.
    expect_key: bool,
    /// Whether serde buffers this object's content before decoding it.
    buffered: bool,
    /// Arrays: elements so far.
    elements: u64,
    /// Bytes serde's buffers hold for this value and everything inside it.
    content: u64,
    /// The largest sum of nested buffers alive at once inside this value.
    peak: u64,
}

struct Scan<'t, 'l> {
    root: Msg,
    tally: &'t mut Tally<'l>,
    stack: Vec<Frame>,
    /// Open buffered objects.
    buffers: usize,
    /// The largest sum of nested buffers alive at once.
    peak: u64,
    /// The longest string with escapes (serde_json unescapes into one scratch buffer).
    longest_escaped: usize,
}

fn malformed(what: &str) -> Refused {
    Refused::Malformed(format!("invalid OTLP JSON: {what}"))
}

/// Scans the request `root` in `body`.
pub(super) fn scan(root: Msg, body: &[u8], tally: &mut Tally<'_>) -> Result<(), Refused> {
    let mut scan = Scan {
        root,
        tally,
        stack: Vec::new(),
        buffers: 0,
        peak: 0,
        longest_escaped: 0,
    };
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b',' => {
                scan.comma();
                i += 1;
            }
            b'{' | b'[' => {
                scan.open(b == b'{')?;
                i += 1;
            }
            b'}' | b']' => {
                scan.close(b == b'}')?;
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let (end, escaped) = string_end(body, start)?;
                scan.string(body.get(start..end).unwrap_or_default(), escaped)?;
                i = end + 1;
            }
            _ => {
                // A number, `true`, `false` or `null`: up to the next delimiter.
                let rest = body.get(i..).unwrap_or_default();
                i += rest
                    .iter()
                    .position(|c| is_delimiter(*c))
                    .unwrap_or(rest.len())
                    .max(1);
                scan.value(None, None)?;
            }
        }
    }
    if !scan.stack.is_empty() {
        return Err(malformed("an object or array does not end"));
    }
    scan.finish()
}

fn is_delimiter(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'{' | b'}' | b'[' | b']' | b'"'
    )
}

/// The index of the quote ending the string that starts at `start` (just after its
/// opening quote), and whether the string has escapes.
fn string_end(body: &[u8], start: usize) -> Result<(usize, bool), Refused> {
    let mut escaped = false;
    let mut j = start;
    while let Some(offset) = body
        .get(j..)
        .and_then(|rest| rest.iter().position(|c| *c == b'"' || *c == b'\\'))
    {
        j += offset;
        if body.get(j) == Some(&b'"') {
            return Ok((j, escaped));
        }
        // A backslash and the byte it escapes.
        escaped = true;
        j += 2;
    }
    Err(malformed("a string does not end"))
}

/// `raw`, a key with escapes, unescaped into `out` when it can be a field name (ASCII,
/// at most [`NAME`] bytes): its length.
fn unescape_name(raw: &[u8], out: &mut [u8; NAME]) -> Option<usize> {
    let mut n = 0;
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let (c, used) = if b == b'\\' {
            match raw.get(i + 1)? {
                b'"' => (b'"', 2),
                b'\\' => (b'\\', 2),
                b'/' => (b'/', 2),
                b'b' => (0x08, 2),
                b'f' => (0x0c, 2),
                b'n' => (b'\n', 2),
                b'r' => (b'\r', 2),
                b't' => (b'\t', 2),
                b'u' => {
                    let hex = std::str::from_utf8(raw.get(i + 2..i + 6)?).ok()?;
                    let code = u32::from_str_radix(hex, 16).ok()?;
                    (u8::try_from(code).ok().filter(u8::is_ascii)?, 6)
                }
                _ => return None,
            }
        } else {
            (b, 1)
        };
        *out.get_mut(n)? = c;
        n += 1;
        i += used;
    }
    Some(n)
}

/// The field of `msg` named by the key `raw` (as sent, with its escapes if `escaped`).
fn field_named(msg: Msg, raw: &[u8], escaped: bool) -> Option<&'static Field> {
    let mut buf = [0u8; NAME];
    let name = if escaped {
        let n = unescape_name(raw, &mut buf)?;
        buf.get(..n)?
    } else {
        raw
    };
    msg.fields().iter().find(|f| f.json.as_bytes() == name)
}

impl Scan<'_, '_> {
    fn comma(&mut self) {
        if let Some(top) = self.stack.last_mut().filter(|top| top.object) {
            top.expect_key = true;
        }
    }

    /// Charges a value at the current place: an object or array (`container` says which),
    /// a string of `text` bytes, or another scalar. Returns what an object there decodes
    /// into.
    fn value(
        &mut self,
        container: Option<bool>,
        text: Option<usize>,
    ) -> Result<Option<Msg>, Refused> {
        let buffered = self.buffers > 0;
        // serde also decodes a struct written as a JSON array (its fields in order, the
        // rest defaulted), which this scan does not follow: OTLP JSON writes every message
        // as an object, so an array where a message belongs is refused.
        let array = container == Some(false);
        let Some(top) = self.stack.last_mut() else {
            // The request itself.
            if array {
                return Err(malformed("the request must be a JSON object"));
            }
            return Ok((container == Some(true)).then_some(self.root));
        };
        let in_array = !top.object;
        let first = in_array && top.elements == 0;
        if in_array {
            top.elements += 1;
        }
        if buffered {
            let mut charge = if in_array { SEQ_SLOT } else { MAP_SLOT };
            if let Some(len) = text {
                charge = charge.saturating_add((len as u64).saturating_add(ALLOCATION));
            }
            top.content = top.content.saturating_add(charge);
        }
        let Some(field) = top.field else {
            return Ok(None);
        };
        let object = container == Some(true);
        match (field.kind, in_array) {
            (Kind::Messages(_), true) if array => {
                Err(malformed("a message must be a JSON object, not an array"))
            }
            (Kind::Messages(msg), true) => {
                self.tally.element(msg, first, field.item)?;
                Ok(object.then_some(msg))
            }
            (Kind::Texts, true) => {
                self.tally.texts_element(first)?;
                if let Some(len) = text {
                    self.tally.text(len)?;
                }
                Ok(None)
            }
            (Kind::Numbers(_), true) => {
                self.tally.numbers(1, first)?;
                Ok(None)
            }
            (Kind::Message(msg), false) if object => {
                self.tally.message()?;
                Ok(Some(msg))
            }
            (Kind::Message(_), false) if array => {
                Err(malformed("a message must be a JSON object, not an array"))
            }
            (Kind::Text, false) => {
                if let Some(len) = text {
                    self.tally.text(len)?;
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn open(&mut self, object: bool) -> Result<(), Refused> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(malformed("nested too deeply"));
        }
        // An array under a key of a repeated field holds that field's elements.
        let field = if object {
            None
        } else {
            self.stack
                .last()
                .filter(|top| top.object)
                .and_then(|top| top.field)
                .filter(|f| matches!(f.kind, Kind::Messages(_) | Kind::Texts | Kind::Numbers(_)))
        };
        let msg = self.value(Some(object), None)?;
        let buffered = object && msg.is_some_and(Msg::buffered_in_json);
        if buffered {
            self.buffers += 1;
        }
        let content = match (self.buffers > 0, object) {
            (false, _) => 0,
            (true, true) => MAP,
            (true, false) => SEQ,
        };
        self.stack.push(Frame {
            object,
            msg: if object { msg } else { None },
            field,
            expect_key: object,
            buffered,
            elements: 0,
            content,
            peak: 0,
        });
        Ok(())
    }

    fn close(&mut self, object: bool) -> Result<(), Refused> {
        let frame = self
            .stack
            .pop()
            .filter(|frame| frame.object == object)
            .ok_or_else(|| malformed("brackets do not match"))?;
        // While this value is decoded its own buffer and the largest chain inside it are
        // alive at once; its content is also in every buffer around it.
        let peak = if frame.buffered {
            self.buffers = self.buffers.saturating_sub(1);
            frame.content.saturating_add(frame.peak)
        } else {
            frame.peak
        };
        match self.stack.last_mut() {
            Some(parent) => {
                parent.content = parent.content.saturating_add(frame.content);
                parent.peak = parent.peak.max(peak);
            }
            None => self.peak = self.peak.max(peak),
        }
        Ok(())
    }

    fn string(&mut self, raw: &[u8], escaped: bool) -> Result<(), Refused> {
        if escaped {
            self.longest_escaped = self.longest_escaped.max(raw.len());
        }
        let buffered = self.buffers > 0;
        if let Some(top) = self
            .stack
            .last_mut()
            .filter(|top| top.object && top.expect_key)
        {
            top.expect_key = false;
            top.field = top.msg.and_then(|msg| field_named(msg, raw, escaped));
            if buffered {
                // A buffered key may be a `String` of its own.
                top.content = top
                    .content
                    .saturating_add((raw.len() as u64).saturating_add(ALLOCATION));
            }
            return Ok(());
        }
        self.value(None, Some(raw.len())).map(|_| ())
    }

    /// Charges what outlives the values: the largest chain of buffers and serde_json's
    /// scratch buffer for strings with escapes.
    fn finish(self) -> Result<(), Refused> {
        let scratch = if self.longest_escaped > 0 {
            (self.longest_escaped as u64).saturating_add(ALLOCATION)
        } else {
            0
        };
        self.tally.charge(self.peak.saturating_add(scratch))
    }
}
