//! Special keys of the W3C WebDriver keyboard, for [`Browser::press_keys`](super::Browser::press_keys).
//!
//! Each is a one-character string in Unicode's private use area, so keys
//! concatenate with text: `format!("bob{ENTER}")`.

/// Backspace.
pub const BACKSPACE: &str = "\u{E003}";
/// Tab: moves focus forward (backward together with [`SHIFT`]).
pub const TAB: &str = "\u{E004}";
/// Enter (return).
pub const ENTER: &str = "\u{E007}";
/// Shift, for chords.
pub const SHIFT: &str = "\u{E008}";
/// Control, for chords.
pub const CONTROL: &str = "\u{E009}";
/// Escape.
pub const ESCAPE: &str = "\u{E00C}";
/// Space bar: toggles check boxes, presses buttons.
pub const SPACE: &str = "\u{E00D}";
/// Home.
pub const HOME: &str = "\u{E011}";
/// End.
pub const END: &str = "\u{E010}";
/// Arrow left.
pub const ARROW_LEFT: &str = "\u{E012}";
/// Arrow up.
pub const ARROW_UP: &str = "\u{E013}";
/// Arrow right.
pub const ARROW_RIGHT: &str = "\u{E014}";
/// Arrow down.
pub const ARROW_DOWN: &str = "\u{E015}";
