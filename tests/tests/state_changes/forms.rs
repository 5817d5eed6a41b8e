//! Reading the post forms of a page as a browser would submit them.

/// A `<form method="post">` of a page: where it posts, and its `csrf` field.
#[derive(Debug)]
pub struct PostForm {
    pub action: String,
    pub csrf: Option<String>,
}

/// The post forms of `html`, read as a browser would submit them.
pub fn post_forms(html: &str) -> Vec<PostForm> {
    let mut forms = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let Some(tag_end) = chunk.find('>') else {
            continue;
        };
        let tag = &chunk[..tag_end];
        let body = chunk.split("</form>").next().unwrap_or(chunk);
        if !attribute(tag, "method").is_some_and(|m| m.eq_ignore_ascii_case("post")) {
            continue;
        }
        let action = attribute(tag, "action").unwrap_or_default();
        let csrf = body
            .split("<input")
            .skip(1)
            .filter_map(|input| input.split('>').next())
            .find(|input| attribute(input, "name").as_deref() == Some("csrf"))
            .and_then(|input| attribute(input, "value"));
        forms.push(PostForm { action, csrf });
    }
    forms
}

/// The unescaped value of `name="..."` in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn forms_are_read_with_their_action_and_token() {
    let html = r#"<form class="search" method="get" action="/x"><input name="q"></form>
        <form method="post" action="&#x2f;signout" class="signout">
        <input type="hidden" name="csrf" value="abc"><input type="hidden" name="lang" value="en"></form>
        <form class="opt-in" method="post" action="/orgs/acme/opt-in"><input name="user"></form>"#;
    let forms = post_forms(html);
    let read: Vec<(&str, Option<&str>)> = forms
        .iter()
        .map(|f| (f.action.as_str(), f.csrf.as_deref()))
        .collect();
    assert_eq!(
        read,
        [("/signout", Some("abc")), ("/orgs/acme/opt-in", None)]
    );
}
