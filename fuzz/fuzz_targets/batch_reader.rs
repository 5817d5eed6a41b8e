//! The batch reader: the quick reader and serde answer the same for every
//! body, whole verdicts included; an accepted event's props hold no raw line
//! break and parse as a JSON object.

#![no_main]

use libfuzzer_sys::fuzz_target;
use usage_validator::batch;

fuzz_target!(|data: &[u8]| {
    let ours = batch::parse(data);
    let serde = batch::parse_with_serde(data);
    assert_eq!(ours, serde, "the quick reader and serde disagree");
    let Ok(parsed) = ours else { return };
    for event in parsed.events.iter().flatten() {
        if let Some(props) = &event.props {
            let text = props.get();
            assert!(
                !text.contains(['\n', '\r']),
                "props keep a line break: {text:?}"
            );
            let value: serde_json::Value =
                serde_json::from_str(text).expect("accepted props parse as JSON");
            assert!(value.is_object());
        }
    }
});
