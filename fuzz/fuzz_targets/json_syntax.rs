//! The browser package's JSON syntax check and `RawValue` maker
//! (`usage_protocol::json`) against serde_json's reading of a raw value: the
//! same texts accepted, and the same value text kept.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use usage_protocol::json::{raw_value, well_formed};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let serde = serde_json::from_str::<&RawValue>(text).ok();
    assert_eq!(
        well_formed(text),
        serde.is_some(),
        "the syntax check and serde_json disagree"
    );
    assert_eq!(
        raw_value(text).as_deref().map(RawValue::get),
        serde.map(RawValue::get),
        "the raw value differs from serde_json's"
    );
});
