//! Where the admin is in the page's lists: the drop-down's search, the
//! opted-out table's search and page, the audit section's filter and page.
//! It travels in the page's URL, and through forms as one `view` field so
//! that a change redirects back to the same place.

use serde::{Deserialize, Serialize};

use super::Language;

/// Rows of the opted-out table per page.
pub const ROWS_PER_PAGE: u32 = 50;
/// Audit entries shown per page.
pub const AUDIT_PER_PAGE: u32 = 20;

/// The page's position in its lists; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// Search text of the drop-down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Search text of the opted-out table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_q: Option<String>,
    /// Where the table's page starts (a cursor of the opted-out listing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The table's page number, for people (the cursor decides the rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    /// Only audit entries about this user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_user: Option<String>,
    /// Where the audit section's page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_cursor: Option<String>,
}

impl View {
    /// Reads a `view` form field; anything unreadable is the first page.
    pub fn from_field(field: Option<&str>) -> Self {
        field
            .and_then(|f| serde_urlencoded::from_str(f).ok())
            .unwrap_or_default()
    }

    /// The view as a query string without `?` (empty at the first page).
    pub fn to_query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    /// The table's page number, 1 if absent or unreadable.
    pub fn page_number(&self) -> u64 {
        self.p
            .as_deref()
            .and_then(|p| p.parse().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    }

    /// A link to the page at `path` showing this view in `language`.
    pub fn href(&self, path: &str, language: Language) -> String {
        let mut query = self.to_query();
        if let Some(lang) = language.param() {
            let lang = format!("lang={lang}");
            query = if query.is_empty() {
                lang
            } else {
                format!("{lang}&{query}")
            };
        }
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }

    /// The same view with the table on its first page.
    pub fn first_page(&self) -> Self {
        Self {
            cursor: None,
            p: None,
            ..self.clone()
        }
    }

    /// The same view with the table on the page after `cursor`.
    pub fn next_page(&self, cursor: String) -> Self {
        Self {
            cursor: Some(cursor),
            p: Some((self.page_number() + 1).to_string()),
            ..self.clone()
        }
    }

    /// The same view with the audit section at `cursor` (none: the newest).
    pub fn audit_at(&self, cursor: Option<String>) -> Self {
        Self {
            audit_cursor: cursor,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::i18n::Lang;

    #[test]
    fn a_view_survives_the_form_round_trip_escaped() {
        let view = View {
            list_q: Some("a&b=c ö".into()),
            cursor: Some("xyz".into()),
            p: Some("3".into()),
            ..Default::default()
        };
        let back = View::from_field(Some(&view.to_query()));
        assert_eq!(back, view);
        assert_eq!(back.page_number(), 3);
        assert_eq!(View::from_field(Some("%%%")), View::default());
        let sv = Language {
            lang: Lang::Sv,
            chosen: true,
        };
        assert_eq!(
            view.next_page("n".into()).href("/p", sv),
            "/p?lang=sv&list_q=a%26b%3Dc+%C3%B6&cursor=n&p=4"
        );
        assert_eq!(View::default().href("/p", sv), "/p?lang=sv");
    }
}
