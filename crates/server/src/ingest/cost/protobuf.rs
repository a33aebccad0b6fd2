//! The cost of a protobuf export request, from one walk over its wire format: every field
//! key is read, the fields of `schema.rs` are charged (embedded messages walked into,
//! strings, bytes and packed numbers measured by their length), every other field is
//! skipped as prost skips it. Nothing is allocated; a malformed message is refused as
//! prost would refuse it.

use super::schema::{Kind, Msg};
use super::{Refused, Tally};
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

/// Deeper than prost decodes (it refuses past 100 nested messages).
const MAX_DEPTH: u32 = 128;

fn invalid(e: prost::DecodeError) -> Refused {
    Refused::Malformed(format!("invalid protobuf: {e}"))
}

/// Walks the request `root` in `body`.
pub(super) fn scan(root: Msg, body: &[u8], tally: &mut Tally<'_>) -> Result<(), Refused> {
    message(root, body, 0, tally)
}

/// Walks one message of type `msg`, `buf` being exactly its bytes.
fn message(msg: Msg, mut buf: &[u8], depth: u32, tally: &mut Tally<'_>) -> Result<(), Refused> {
    if depth > MAX_DEPTH {
        return Err(Refused::Malformed(
            "invalid protobuf: messages nested too deeply".into(),
        ));
    }
    // The fields of this message met already, one bit per field number below 64 (a
    // repeated field's first element also costs its `Vec`).
    let mut met = 0u64;
    while !buf.is_empty() {
        let (number, wire_type) = decode_key(&mut buf).map_err(invalid)?;
        let Some(field) = msg.by_number(number) else {
            skip_field(wire_type, number, &mut buf, DecodeContext::default()).map_err(invalid)?;
            continue;
        };
        let bit = 1u64.checked_shl(number).unwrap_or(0);
        let first = met & bit == 0;
        met |= bit;
        if wire_type != WireType::LengthDelimited {
            // A repeated number sent unpacked is one element; anything else with this wire
            // type is refused by prost.
            if let Kind::Numbers(_) = field.kind {
                tally.numbers(1, first)?;
            }
            skip_field(wire_type, number, &mut buf, DecodeContext::default()).map_err(invalid)?;
            continue;
        }
        let len = decode_varint(&mut buf).map_err(invalid)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= buf.len())
            .ok_or_else(|| {
                Refused::Malformed("invalid protobuf: a field runs past its message".into())
            })?;
        let (value, rest) = buf.split_at(len);
        buf = rest;
        match field.kind {
            Kind::Message(inner) => {
                tally.message()?;
                message(inner, value, depth + 1, tally)?;
            }
            Kind::Messages(inner) => {
                tally.element(inner, first, field.item)?;
                message(inner, value, depth + 1, tally)?;
            }
            Kind::Text => tally.text(len)?,
            Kind::Texts => {
                tally.texts_element(first)?;
                tally.text(len)?;
            }
            Kind::Numbers(width) => {
                // Packed: fixed-width numbers by their width, varints by their last bytes.
                let n = match width {
                    0 => value.iter().filter(|b| **b < 0x80).count(),
                    width => len / width,
                };
                tally.numbers(n, first)?;
            }
        }
    }
    Ok(())
}
