//! Fuzzes the beacon decoder and validation (`collector/src/ingest.rs`): any
//! bytes must give a batch or an error naming a field, never a panic; a batch
//! that passes validation must survive a JSON round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vidpulse_collector::config::UnknownFields;
use vidpulse_collector::ingest::{decode, decode_with, validate, Limits};

const LIMITS: Limits = Limits {
    max_beacons_per_batch: 50,
    max_string_len: 2048,
    max_events_per_beacon: 256,
    unknown_fields: UnknownFields::Ignore,
};

fuzz_target!(|data: &[u8]| {
    let strict = decode_with(data, UnknownFields::Reject);
    let Ok(batch) = decode(data) else {
        assert!(
            strict.is_err(),
            "strict decoding accepted what lenient refused"
        );
        return;
    };
    if validate(&batch, &LIMITS).is_ok() {
        let again = serde_json::to_vec(&batch).expect("a valid batch serialises");
        let back = decode_with(&again, UnknownFields::Reject).expect("round trip decodes");
        assert_eq!(back, batch, "round trip changed the batch");
        validate(&back, &LIMITS).expect("round trip still valid");
    }
});
