//! An element of the page, found by CSS selector.

use serde_json::{json, Value};

use super::wire::Wire;
use crate::{Error, Result};

/// The W3C key that marks a JSON object as an element reference.
pub(crate) const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A reference to one element of the current page.
///
/// It goes stale when the page navigates; find it again then.
#[derive(Debug, Clone)]
pub struct Element {
    session: Wire,
    id: String,
}

impl Element {
    /// The element a W3C element reference in `value` names, below the session `session`.
    pub(crate) fn from_reference(session: &Wire, value: &Value) -> Result<Element> {
        let id = value
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::unexpected("element reference", value.to_string()))?;
        Ok(Element {
            session: session.clone(),
            id: id.to_owned(),
        })
    }

    /// This element as an argument of [`Browser::execute`](super::Browser::execute),
    /// where the script sees it as a DOM node.
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    /// Clicks the element's centre, scrolling it into view first.
    pub async fn click(&self) -> Result<()> {
        self.session
            .post_empty(&self.path("/click"))
            .await
            .map(drop)
    }

    /// Types `text` into the element; may hold keys from [`keys`](super::keys).
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.session
            .post(&self.path("/value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    /// Empties an input or text area.
    pub async fn clear(&self) -> Result<()> {
        self.session
            .post_empty(&self.path("/clear"))
            .await
            .map(drop)
    }

    /// The rendered text, as a user would read it.
    pub async fn text(&self) -> Result<String> {
        self.string("/text").await
    }

    /// The lower-case tag name, such as `button`.
    pub async fn tag_name(&self) -> Result<String> {
        self.string("/name").await
    }

    /// The HTML attribute `name`, or `None` when absent.
    pub async fn attribute(&self, name: &str) -> Result<Option<String>> {
        let value = self
            .session
            .get(&self.path(&format!("/attribute/{name}")))
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// The DOM property `name`, such as `value` or `checked`.
    pub async fn property(&self, name: &str) -> Result<Value> {
        self.session
            .get(&self.path(&format!("/property/{name}")))
            .await
    }

    /// True when the element is visible to the user.
    pub async fn is_displayed(&self) -> Result<bool> {
        self.boolean("/displayed").await
    }

    /// True when a check box, radio button or option is selected.
    pub async fn is_selected(&self) -> Result<bool> {
        self.boolean("/selected").await
    }

    /// True unless the element is disabled.
    pub async fn is_enabled(&self) -> Result<bool> {
        self.boolean("/enabled").await
    }

    /// The first descendant matching `css`.
    pub async fn find(&self, css: &str) -> Result<Element> {
        let value = self
            .session
            .post(&self.path("/element"), css_locator(css))
            .await?;
        Element::from_reference(&self.session, &value)
    }

    /// All descendants matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let value = self
            .session
            .post(&self.path("/elements"), css_locator(css))
            .await?;
        elements_from(&self.session, &value)
    }

    /// The session-relative path of this element's command `command`.
    fn path(&self, command: &str) -> String {
        format!("/element/{}{command}", self.id)
    }

    async fn string(&self, path: &str) -> Result<String> {
        let value = self.session.get(&self.path(path)).await?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::unexpected(format!("GET {path}"), value.to_string()))
    }

    async fn boolean(&self, path: &str) -> Result<bool> {
        let value = self.session.get(&self.path(path)).await?;
        value
            .as_bool()
            .ok_or_else(|| Error::unexpected(format!("GET {path}"), value.to_string()))
    }
}

/// The W3C locator for a CSS selector.
pub(crate) fn css_locator(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

/// The elements of a W3C array of element references.
pub(crate) fn elements_from(session: &Wire, value: &Value) -> Result<Vec<Element>> {
    value
        .as_array()
        .ok_or_else(|| Error::unexpected("element list", value.to_string()))?
        .iter()
        .map(|reference| Element::from_reference(session, reference))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_round_trips_as_a_script_argument() {
        let session = Wire::new("http://127.0.0.1:1/session/s1".into());
        let element =
            Element::from_reference(&session, &json!({ ELEMENT_KEY: "e7" })).expect("a reference");
        assert_eq!(element.as_arg(), json!({ ELEMENT_KEY: "e7" }));
        assert_eq!(element.path("/click"), "/element/e7/click");
    }

    #[test]
    fn a_value_without_the_element_key_is_rejected() {
        let session = Wire::new("http://127.0.0.1:1/session/s1".into());
        assert!(Element::from_reference(&session, &json!({"id": "e7"})).is_err());
        assert!(elements_from(&session, &json!("nope")).is_err());
    }
}
