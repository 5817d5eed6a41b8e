//! SDK errors as JavaScript values, so `?` works in exported functions.

use wasm_bindgen::JsValue;

use crate::error::Error;

impl From<Error> for JsValue {
    /// A JavaScript `Error` with the message and a `code` property.
    fn from(error: Error) -> JsValue {
        let js = js_sys::Error::new(&error.to_string());
        // Setting a property on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code().into());
        js.into()
    }
}
