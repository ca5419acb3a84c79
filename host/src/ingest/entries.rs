//! Counting the list entries of a pushed body (protobuf or JSON) before it
//! is decoded, so that a small body of many empty messages is refused
//! before it becomes a huge tree of structs.
//!
//! An entry is one element of a repeated field, at any depth: a message
//! (resource, scope, metric, point, attribute, series, label, sample), a
//! string or bytes, or a number of a packed list. These are what a decoder
//! appends to a `Vec`; a singular message is kept inline in its parent, so
//! it costs nothing of its own and is only walked for what it holds.

use super::json::MAX_BATCH_SAMPLES;

/// Most list entries one OTLP or remote-write body may hold, counted at
/// every depth, containers included.
///
/// Why a limit besides the body size: prost and serde give every entry a
/// struct of its own. An empty message is 2 bytes of protobuf (3 of JSON,
/// `{},`) but 60 to 210 bytes of struct, plus the slack of a growing `Vec`,
/// so 16 MiB of empty resource metrics, which gzip to 16 KB, would decode
/// into nearly a gigabyte. Counting entries bounds the decoded structs
/// whatever their shape: at most this many times the largest entry.
///
/// Why ten times [`MAX_BATCH_SAMPLES`]: a full batch in which every sample
/// is its own series still fits with eight labels each (remote write: the
/// series, its sample, eight labels) or its own point with nine attributes
/// (OTLP: metrics and their containers are shared by many points in
/// practice). Prometheus sends 2,000 samples per request by default, an
/// OpenTelemetry Collector batch is 8,192 points, so real senders are
/// far below it. A body beyond it holds more structure than samples.
pub const MAX_DECODED_ENTRIES: usize = 10 * MAX_BATCH_SAMPLES;

/// Deepest nesting of protobuf messages walked: prost refuses to decode
/// deeper than 100, so the walk refuses nothing prost would accept, and its
/// recursion is bounded however a body is built.
const MAX_PROTOBUF_DEPTH: usize = 100;

/// Deepest nesting of JSON containers tracked: serde_json refuses bodies
/// nested 128 deep, so nothing it would accept is refused here.
const MAX_JSON_DEPTH: usize = 128;

/// Why a body was refused before decoding.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EntryError {
    #[error("the body holds more than {MAX_DECODED_ENTRIES} list entries")]
    TooMany,
    /// The body cannot be walked; the decoder would refuse it too.
    #[error("{0}")]
    Malformed(&'static str),
}

/// What a decoder keeps of one field of a message, as far as counting
/// goes. Fields not listed in a [`Shape`] are skipped by their wire type.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// A singular message: kept inline, walked for the lists it holds.
    Message(&'static Shape),
    /// A repeated message: an entry per occurrence, each walked.
    Messages(&'static Shape),
    /// Repeated strings or bytes: an entry per occurrence.
    Strings,
    /// Repeated `fixed64` or `double`: an entry per 8 bytes when packed,
    /// per occurrence when not.
    Fixed64s,
    /// Repeated varints: an entry per value, packed or not.
    Varints,
}

/// The fields of a message that hold lists, by field number; it mirrors
/// the structs the body is decoded into, not the whole `.proto`.
#[derive(Debug)]
pub struct Shape(pub &'static [(u32, Field)]);

impl Shape {
    /// A message without lists.
    pub const LEAF: Shape = Shape(&[]);

    fn field(&self, number: u32) -> Option<Field> {
        self.0
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, field)| *field)
    }
}

/// The entries of a protobuf `body` whose top message is `root`, or
/// [`EntryError::TooMany`] as soon as they pass [`MAX_DECODED_ENTRIES`].
/// Reads tags and lengths only, and allocates nothing.
pub fn count_protobuf(body: &[u8], root: &Shape) -> Result<usize, EntryError> {
    let mut count = Count(0);
    let mut rest = body;
    fields(&mut rest, Some(root), 0, None, &mut count)?;
    Ok(count.0)
}

struct Count(usize);

impl Count {
    fn add(&mut self, n: usize) -> Result<(), EntryError> {
        self.0 = self.0.saturating_add(n);
        if self.0 > MAX_DECODED_ENTRIES {
            return Err(EntryError::TooMany);
        }
        Ok(())
    }
}

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_START_GROUP: u64 = 3;
const WIRE_END_GROUP: u64 = 4;
const WIRE_FIXED32: u64 = 5;

/// Walks the fields in `buf` (a message's bytes, or a group's up to its end
/// tag when `group` names it), advancing `buf` past them. `shape` is `None`
/// inside groups, which no decoded struct keeps.
fn fields(
    buf: &mut &[u8],
    shape: Option<&Shape>,
    depth: usize,
    group: Option<u32>,
    count: &mut Count,
) -> Result<(), EntryError> {
    if depth > MAX_PROTOBUF_DEPTH {
        return Err(EntryError::Malformed("messages are nested too deeply"));
    }
    while !buf.is_empty() {
        let key = varint(buf)?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|n| *n != 0)
            .ok_or(EntryError::Malformed("a field number is out of range"))?;
        let field = shape.and_then(|s| s.field(number));
        match key & 7 {
            WIRE_VARINT => {
                varint(buf)?;
                if matches!(field, Some(Field::Varints)) {
                    count.add(1)?;
                }
            }
            WIRE_FIXED64 => {
                skip(buf, 8)?;
                if matches!(field, Some(Field::Fixed64s)) {
                    count.add(1)?;
                }
            }
            WIRE_FIXED32 => skip(buf, 4)?,
            WIRE_LEN => {
                let len = usize::try_from(varint(buf)?)
                    .ok()
                    .filter(|len| *len <= buf.len())
                    .ok_or(EntryError::Malformed(
                        "a length runs past the end of the body",
                    ))?;
                let (mut value, rest) = buf.split_at(len);
                *buf = rest;
                match field {
                    Some(Field::Message(inner)) => {
                        fields(&mut value, Some(inner), depth + 1, None, count)?;
                    }
                    Some(Field::Messages(inner)) => {
                        count.add(1)?;
                        fields(&mut value, Some(inner), depth + 1, None, count)?;
                    }
                    Some(Field::Strings) => count.add(1)?,
                    Some(Field::Fixed64s) => count.add(len / 8)?,
                    // Each varint ends with the one byte that has no
                    // continuation bit.
                    Some(Field::Varints) => {
                        count.add(value.iter().filter(|b| *b & 0x80 == 0).count())?;
                    }
                    None => {}
                }
            }
            WIRE_START_GROUP => fields(buf, None, depth + 1, Some(number), count)?,
            WIRE_END_GROUP if group == Some(number) => return Ok(()),
            WIRE_END_GROUP => {
                return Err(EntryError::Malformed("an end-group tag has no start"));
            }
            _ => return Err(EntryError::Malformed("a field has an unknown wire type")),
        }
    }
    match group {
        Some(_) => Err(EntryError::Malformed("a group has no end tag")),
        None => Ok(()),
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64, EntryError> {
    let mut value = 0;
    for (i, byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
    }
    Err(EntryError::Malformed("a varint is truncated or too long"))
}

fn skip(buf: &mut &[u8], n: usize) -> Result<(), EntryError> {
    if buf.len() < n {
        return Err(EntryError::Malformed("a field is truncated"));
    }
    *buf = &buf[n..];
    Ok(())
}

/// The entries of a JSON `body`: the elements of its arrays, at any depth.
/// In OTLP's JSON mapping every array is a repeated field, so this counts
/// what [`count_protobuf`] counts in the same request's protobuf encoding.
/// A byte scan that allocates nothing; malformed JSON is left to the
/// decoder, which refuses it.
pub fn count_json(body: &[u8]) -> Result<usize, EntryError> {
    let mut count = Count(0);
    // One bit per open container, set for arrays.
    let mut arrays: u128 = 0;
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    // Just after `[`: the next token starts the first element, unless it
    // is the `]` of an empty array.
    let mut first = false;
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        if first {
            first = false;
            if byte != b']' {
                count.add(1)?;
            }
        }
        let in_array = depth > 0 && arrays & (1u128 << (depth - 1)) != 0;
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                if depth == MAX_JSON_DEPTH {
                    return Err(EntryError::Malformed("the JSON is nested too deeply"));
                }
                arrays &= !(1u128 << depth);
                if byte == b'[' {
                    arrays |= 1u128 << depth;
                    first = true;
                }
                depth += 1;
            }
            b']' | b'}' => depth = usize::saturating_sub(depth, 1),
            b',' if in_array => count.add(1)?,
            _ => {}
        }
    }
    Ok(count.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    static ROOT: Shape = Shape(&[
        (1, Field::Messages(&ROOT)),
        (2, Field::Message(&ROOT)),
        (3, Field::Strings),
        (4, Field::Fixed64s),
        (5, Field::Varints),
    ]);

    fn count(body: &[u8]) -> Result<usize, EntryError> {
        count_protobuf(body, &ROOT)
    }

    #[test]
    fn repeated_fields_are_counted_at_every_depth() {
        // Two empty messages in field 1; a singular message (2) holding one.
        assert_eq!(count(&[0x0a, 0x00, 0x0a, 0x00]), Ok(2));
        assert_eq!(count(&[0x12, 0x02, 0x0a, 0x00]), Ok(1));
        // A message in field 1 holding two strings (3) and an unknown field.
        assert_eq!(
            count(&[0x0a, 0x07, 0x1a, 0x01, b'a', 0x1a, 0x00, 0x30, 0x05]),
            Ok(3)
        );
        // Packed: 16 bytes of fixed64 are two; varints 1, 300 and 0 are three.
        let mut packed = vec![0x22, 16];
        packed.extend([0; 16]);
        packed.extend([0x2a, 4, 0x01, 0xac, 0x02, 0x00]);
        assert_eq!(count(&packed), Ok(5));
        // Unpacked, one per occurrence.
        assert_eq!(count(&[0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0x28, 0x07]), Ok(2));
        // Fields outside the shape, and groups, count nothing.
        assert_eq!(
            count(&[0x38, 0x01, 0x45, 0, 0, 0, 0, 0x3b, 0x0a, 0x00, 0x3c]),
            Ok(0)
        );
    }

    #[test]
    fn the_limit_is_exclusive_and_stops_the_walk() {
        let body = [0x0a, 0x00].repeat(MAX_DECODED_ENTRIES);
        assert_eq!(count(&body), Ok(MAX_DECODED_ENTRIES));
        let body = [0x0a, 0x00].repeat(MAX_DECODED_ENTRIES + 1);
        assert_eq!(count(&body), Err(EntryError::TooMany));
        assert_eq!(
            EntryError::TooMany.to_string(),
            "the body holds more than 1000000 list entries"
        );
    }

    #[test]
    fn malformed_bodies_are_named_not_walked_past() {
        let malformed = |body: &[u8]| match count(body) {
            Err(EntryError::Malformed(why)) => why,
            other => panic!("{body:?}: {other:?}"),
        };
        assert_eq!(
            malformed(&[0x0a, 0x05, 0x00]),
            "a length runs past the end of the body"
        );
        assert_eq!(malformed(&[0x0a]), "a varint is truncated or too long");
        assert_eq!(
            malformed(&[0x08, 0xff]),
            "a varint is truncated or too long"
        );
        assert_eq!(malformed(&[0x09, 0x00]), "a field is truncated");
        assert_eq!(malformed(&[0x0e]), "a field has an unknown wire type");
        assert_eq!(malformed(&[0x0c]), "an end-group tag has no start");
        assert_eq!(malformed(&[0x0b]), "a group has no end tag");
        assert_eq!(malformed(&[0x00]), "a field number is out of range");
        // Singular messages nested past prost's limit.
        let nested = |levels: usize| {
            let mut body: Vec<u8> = Vec::new();
            for _ in 0..levels {
                let len = body.len();
                let mut outer = vec![0x12];
                if len < 0x80 {
                    outer.push(len as u8);
                } else {
                    outer.extend([(len as u8) | 0x80, (len >> 7) as u8]);
                }
                outer.extend(body);
                body = outer;
            }
            body
        };
        assert_eq!(count(&nested(MAX_PROTOBUF_DEPTH)), Ok(0));
        assert_eq!(
            malformed(&nested(MAX_PROTOBUF_DEPTH + 1)),
            "messages are nested too deeply"
        );
    }

    #[test]
    fn json_counts_array_elements_outside_strings() {
        let json = |s: &str| count_json(s.as_bytes());
        assert_eq!(json("{}"), Ok(0));
        assert_eq!(json("[]"), Ok(0));
        assert_eq!(json(" [ ] "), Ok(0));
        assert_eq!(json("[{}]"), Ok(1));
        assert_eq!(
            json(r#"{"a": [{}, {}, {"b": [1, 2, [3]]}], "c": {"d": 1, "e": 2}}"#),
            Ok(7)
        );
        assert_eq!(json(r#"["[,]", "\"[", {"k": "],{"}]"#), Ok(3));
        assert_eq!(
            json(&format!("[{}{{}}]", "{},".repeat(MAX_DECODED_ENTRIES - 1))),
            Ok(MAX_DECODED_ENTRIES)
        );
        assert_eq!(
            json(&format!("[{}{{}}]", "{},".repeat(MAX_DECODED_ENTRIES))),
            Err(EntryError::TooMany)
        );
        assert_eq!(json(&"[".repeat(MAX_JSON_DEPTH)), Ok(MAX_JSON_DEPTH - 1));
        assert_eq!(
            json(&"[".repeat(MAX_JSON_DEPTH + 1)),
            Err(EntryError::Malformed("the JSON is nested too deeply"))
        );
    }
}
