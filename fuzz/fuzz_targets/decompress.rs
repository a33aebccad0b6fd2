//! The request body decompression (`ingest::decompress`) with a small cap, and the
//! receivers' whole path through it (`ingest::decode_body`). The first byte chooses the
//! `Content-Encoding` (modulo 8: identity, gzip, zstd, empty, " GZIP ", "Zstd", deflate,
//! br); the rest is the body.
//!
//! Checked: nothing above the cap is ever returned; identity bodies are used as sent;
//! an unknown encoding is refused; and the input compressed by the fuzz target itself
//! in two gzip members or two zstd frames (split where the first byte says) comes back
//! whole, or is refused as too large exactly when it is larger than the cap.
#![no_main]

use automagik_telemetry_core::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use automagik_telemetry_server::ingest::{self, Encoding, IngestError};
use automagik_telemetry_server::Limits;
use libfuzzer_sys::fuzz_target;
use prost::bytes::Bytes;
use std::io::Write;

/// The decompressed size accepted, in bytes: below libFuzzer's default input length
/// (4096), so both sides of it are reached.
const CAP: usize = 2048;

const COMPRESSIONS: [&str; 8] = [
    "identity", "gzip", "zstd", "", " GZIP ", "Zstd", "deflate", "br",
];

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).expect("zstd into memory")
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let compression = COMPRESSIONS[usize::from(selector) % COMPRESSIONS.len()];
    let name = compression.trim().to_ascii_lowercase();
    let compressed = matches!(name.as_str(), "gzip" | "zstd");

    // The input as a body sent with this encoding.
    match ingest::decompress(compression, body, CAP) {
        Ok(Some(out)) => {
            assert!(compressed, "{compression:?} decompressed");
            assert!(out.len() <= CAP, "{} bytes over the cap", out.len());
        }
        Ok(None) => {
            assert!(
                matches!(name.as_str(), "identity" | ""),
                "{compression:?} used as sent"
            );
            assert!(body.len() <= CAP, "an identity body over the cap accepted");
        }
        Err(IngestError::TooLarge(_)) => {}
        Err(IngestError::Malformed(_)) => {
            assert!(
                !matches!(name.as_str(), "identity" | ""),
                "an identity body refused as malformed"
            );
        }
        Err(e) => panic!("decompression refused with {e:?}"),
    }

    // The receivers' path: decompression, then the measure and the decoder.
    let limits = Limits {
        max_body_bytes: CAP,
        max_decompressed_bytes: CAP,
        max_items: 100,
        max_decoded_bytes: 64 * 1024,
        ..Limits::default()
    };
    let _ = ingest::decode_body::<ExportTraceServiceRequest>(
        Encoding::Protobuf,
        compression,
        Bytes::copy_from_slice(body),
        &limits,
    );

    // The input compressed here, in two members or frames: back whole, or too large.
    if !compressed {
        return;
    }
    let split = usize::from(selector) * body.len() / 256;
    let (first, second) = body.split_at(split);
    let sent = if name == "gzip" {
        [gzip(first), gzip(second)].concat()
    } else {
        [zstd(first), zstd(second)].concat()
    };
    match ingest::decompress(compression, &sent, CAP) {
        Ok(Some(out)) => {
            assert!(body.len() <= CAP, "{} bytes over the cap accepted", body.len());
            assert!(
                out.as_slice() == body,
                "{compression:?} in two parts at {split} of {} bytes decompressed into \
                 {} different bytes",
                body.len(),
                out.len()
            );
        }
        Err(IngestError::TooLarge(_)) => {
            assert!(body.len() > CAP, "{} bytes refused as too large", body.len());
        }
        other => panic!(
            "{compression:?} in two parts at {split} of {} bytes: {other:?}",
            body.len()
        ),
    }
});
