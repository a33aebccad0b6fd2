//! OTLP protobuf through the server's ingest path: the measure before decoding, the
//! decoder, rows and rollups (`automagik_telemetry_fuzz::otlp` lists what is checked).
//! The first byte chooses the signal (0 traces, 1 metrics, 2 logs, modulo 3); the rest
//! is the decompressed body.
#![no_main]

use automagik_telemetry_server::ingest::Encoding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    automagik_telemetry_fuzz::otlp(Encoding::Protobuf, data);
});
