//! The agent event envelope of the Kafka topics (`agent_event::Envelope::parse`) on
//! arbitrary bytes, as the consumer receives them.
//!
//! Checked: an envelope `parse` accepts passes `check` (the same rules on the envelope in
//! memory, which the SDK runs before publishing), and written out again (`to_bytes`) is
//! accepted by `parse` with the same ids, type, time, agent and fields; the ids derived
//! from any text (`derived_uuid`) are UUIDs.
#![no_main]

use automagik_telemetry_core::agent_event::{self, Envelope};
use automagik_telemetry_fuzz::check_envelope_round_trip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse(data) {
        if let Err(e) = envelope.check() {
            panic!("parse() accepts an envelope check() refuses: {e}");
        }
        assert_eq!(envelope.topic(), envelope.event_type.topic());
        check_envelope_round_trip(&envelope);
    }
    let text = String::from_utf8_lossy(data);
    let id = agent_event::derived_uuid(&text);
    assert!(agent_event::is_uuid(&id), "derived_uuid gave {id:?}");
});
