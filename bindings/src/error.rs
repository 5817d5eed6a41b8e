//! The bindings' errors, thrown to JavaScript as `Error`s with a `code`.

use wasm_bindgen::JsValue;

/// What can go wrong in a call from JavaScript.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// The options object given to `Tracker.create` is not usable.
    #[error("invalid tracker options: {0}")]
    InvalidOptions(String),
    /// The SDK refused the call.
    #[error(transparent)]
    Sdk(#[from] usage_sdk::Error),
}

impl BindingError {
    /// The `code` property of the thrown `Error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidOptions(_) => "invalid_options",
            Self::Sdk(error) => error.code(),
        }
    }
}

impl From<BindingError> for JsValue {
    fn from(error: BindingError) -> JsValue {
        match error {
            // The SDK's own conversion already makes an `Error` with a code.
            BindingError::Sdk(error) => error.into(),
            other => {
                let js = js_sys::Error::new(&other.to_string());
                // Setting a property on a fresh Error object cannot fail.
                let _ = js_sys::Reflect::set(&js, &"code".into(), &other.code().into());
                js.into()
            }
        }
    }
}
