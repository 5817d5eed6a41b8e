//! Every word the settings page shows, in English and Swedish, and how the
//! language of a request is chosen.

/// A language the page speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English, the default.
    En,
    /// Swedish.
    Sv,
}

impl Lang {
    /// The language of a BCP 47 tag such as `sv-SE`, if the page speaks it.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next()?.trim();
        if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else if primary.eq_ignore_ascii_case("sv") {
            Some(Self::Sv)
        } else {
            None
        }
    }

    /// The page's words in this language.
    pub fn strings(self) -> &'static Strings {
        match self {
            Self::En => &EN,
            Self::Sv => &SV,
        }
    }
}

/// The language of a request: `?lang=` wins, then the first language of
/// `Accept-Language` (by q-value) that the page speaks, then English.
///
/// The flag says whether `?lang=` chose it, so links and redirects keep it.
pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> (Lang, bool) {
    if let Some(lang) = query.and_then(Lang::from_tag) {
        return (lang, true);
    }
    let lang = accept_language.and_then(from_accept_language);
    (lang.unwrap_or(Lang::En), false)
}

/// The first supported language of an `Accept-Language` value, by q order;
/// among equal q-values the earlier entry wins.
fn from_accept_language(header: &str) -> Option<Lang> {
    let mut ranked: Vec<(u16, Lang)> = header
        .split(',')
        .take(32)
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let lang = Lang::from_tag(parts.next()?.trim())?;
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .map_or(Some(1000), parse_quality)?;
            (quality > 0).then_some((quality, lang))
        })
        .collect();
    // A stable sort keeps the header's order among equal q-values.
    ranked.sort_by_key(|(quality, _)| std::cmp::Reverse(*quality));
    ranked.first().map(|(_, lang)| *lang)
}

/// A q-value in thousandths, or `None` if malformed.
fn parse_quality(text: &str) -> Option<u16> {
    let value: f32 = text.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

/// Joins display names for a message: "A", "A and B", "A, B and C", or
/// "A, B, C and 4 more" when `total` is larger than the names given.
pub fn join_names(t: &Strings, names: &[String], total: usize) -> String {
    let rest = total.saturating_sub(names.len());
    let mut parts: Vec<String> = names.to_vec();
    if rest > 0 {
        parts.push(t.and_more.replace("{n}", &rest.to_string()));
    }
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} {} {last}", init.join(", "), t.and),
    }
}

/// The page's words in one language. Placeholders in braces are filled in
/// by the page; everything is escaped when rendered.
#[derive(Debug)]
pub struct Strings {
    /// The `<html lang>` value.
    pub code: &'static str,
    /// The other language, named in itself, for the language switch.
    pub other_name: &'static str,
    /// The other language's code.
    pub other_code: &'static str,
    /// Accessible name of the language switch.
    pub language_label: &'static str,
    /// The product's name in the page header.
    pub site_name: &'static str,
    /// The link that skips to the main content.
    pub skip_link: &'static str,
    /// Accessible name of the main menu.
    pub menu_label: &'static str,
    /// Accessible name of the breadcrumb trail.
    pub breadcrumb_label: &'static str,
    /// Menu and breadcrumb: Tools.
    pub tools: &'static str,
    /// Menu and breadcrumb: Product Usage.
    pub product_usage: &'static str,
    /// The page's title and heading.
    pub page_title: &'static str,
    /// Before the admin's name in the header.
    pub signed_in_as: &'static str,
    /// The sign-out button.
    pub sign_out: &'static str,
    /// The paragraph under the heading.
    pub intro: &'static str,
    /// The summary of each help disclosure.
    pub help: &'static str,
    /// Heading of the opt-out section.
    pub opt_out_heading: &'static str,
    /// Help on the opt-out section.
    pub opt_out_help: &'static str,
    /// Label of the search box.
    pub search_label: &'static str,
    /// Hint under the search box.
    pub search_hint: &'static str,
    /// The search button.
    pub search_button: &'static str,
    /// The link that clears the search.
    pub clear_search: &'static str,
    /// Label of the user drop-down.
    pub user_label: &'static str,
    /// Hint under the user drop-down.
    pub user_hint: &'static str,
    /// The drop-down's empty first choice.
    pub choose_user: &'static str,
    /// The opt-out button.
    pub opt_out_button: &'static str,
    /// Hint on the opt-out button.
    pub opt_out_hint: &'static str,
    /// Under the drop-down when exactly one user is listed.
    pub candidates_one: &'static str,
    /// Under the drop-down when every match is listed; `{n}` is the count.
    pub candidates_all: &'static str,
    /// Under the drop-down when only the first `{n}` matches are listed.
    pub candidates_some: &'static str,
    /// Under the drop-down when nothing matches the search.
    pub candidates_none: &'static str,
    /// Under the drop-down when everyone is opted out already.
    pub candidates_nobody: &'static str,
    /// Heading of the list section.
    pub list_heading: &'static str,
    /// Help on the list section.
    pub list_help: &'static str,
    /// The table's caption.
    pub list_caption: &'static str,
    /// Column: the row's check box.
    pub col_select: &'static str,
    /// Column: name.
    pub col_name: &'static str,
    /// Column: email.
    pub col_email: &'static str,
    /// Column: when the user was opted out.
    pub col_when: &'static str,
    /// Column: who opted the user out.
    pub col_by: &'static str,
    /// The select-all check box.
    pub select_all: &'static str,
    /// Hint on the select-all check box.
    pub select_all_hint: &'static str,
    /// Accessible name of a row's check box; `{name}` is the user.
    pub select_row: &'static str,
    /// The opt-in button.
    pub opt_in_button: &'static str,
    /// Hint on the opt-in button.
    pub opt_in_hint: &'static str,
    /// The list's empty state.
    pub list_empty: &'static str,
    /// Under the table when it is cut short: `{shown}` of `{total}`.
    pub list_truncated: &'static str,
    /// An actor that is a service key; `{id}` is the key's id.
    pub actor_key: &'static str,
    /// The server itself as an actor (seeding, imports).
    pub actor_system: &'static str,
    /// Heading of the note on running apps.
    pub delay_heading: &'static str,
    /// The note on running apps.
    pub delay_note: &'static str,
    /// Accessible name of the outcome message.
    pub message_label: &'static str,
    /// Outcome: one user opted out; `{names}`.
    pub done_out_one: &'static str,
    /// Outcome: several users opted out; `{names}`.
    pub done_out_many: &'static str,
    /// Outcome: one user opted in; `{names}`.
    pub done_in_one: &'static str,
    /// Outcome: several users opted in; `{names}`.
    pub done_in_many: &'static str,
    /// "and" in a list of names.
    pub and: &'static str,
    /// The tail of a cut-short list of names; `{n}` is how many are left out.
    pub and_more: &'static str,
    /// Outcome: the opt-out form was sent without a user.
    pub err_pick_user: &'static str,
    /// Outcome: the opt-in form was sent without a checked row.
    pub err_pick_rows: &'static str,
    /// Outcome: a user is not in the directory.
    pub err_unknown_user: &'static str,
    /// Outcome: the change could not be saved.
    pub err_failed: &'static str,
    /// 401 page: title.
    pub signed_out_title: &'static str,
    /// 401 page: what happened.
    pub signed_out_body: &'static str,
    /// 401 page: how to get a link; the command follows.
    pub signed_out_how: &'static str,
    /// 401 page: stands for the reader's user id in the command.
    pub user_id_placeholder: &'static str,
    /// 403 page: title.
    pub forbidden_title: &'static str,
    /// 403 page: what happened.
    pub forbidden_body: &'static str,
    /// 403 page for a form without this session's CSRF token: title.
    pub stale_form_title: &'static str,
    /// 403 page for a form without this session's CSRF token: what to do.
    pub stale_form_body: &'static str,
    /// 400 page: title.
    pub bad_request_title: &'static str,
    /// 400 page: what to do.
    pub bad_request_body: &'static str,
    /// 503 page: title.
    pub unavailable_title: &'static str,
    /// 503 page: what to do.
    pub unavailable_body: &'static str,
    /// Link back to the page from an error page.
    pub back_to_page: &'static str,
}

/// English.
pub static EN: Strings = Strings {
    code: "en",
    other_name: "Svenska",
    other_code: "sv",
    language_label: "Language",
    site_name: "Usage tracking",
    skip_link: "Skip to the settings",
    menu_label: "Main menu",
    breadcrumb_label: "You are here",
    tools: "Tools",
    product_usage: "Product Usage",
    page_title: "Opt-out settings",
    signed_in_as: "Signed in as",
    sign_out: "Sign out",
    intro: "Decide which people in your organisation are left out of product usage tracking, \
            and bring them back whenever you like. Only product admins can open this page.",
    help: "Help",
    opt_out_heading: "Opt-out user",
    opt_out_help: "Pick someone who is tracked today and press Opt-out. From that moment the \
                   server throws away every usage event recorded for them, and they move to the \
                   list below. You can undo it there at any time.",
    search_label: "Find a user",
    search_hint: "Type part of a name, an email address or a user id.",
    search_button: "Search",
    clear_search: "Show everyone",
    user_label: "User to opt out",
    user_hint: "Only users who are tracked right now are offered.",
    choose_user: "Choose a user",
    opt_out_button: "Opt-out",
    opt_out_hint: "Their usage events are discarded from the moment you press it.",
    candidates_one: "One tracked user to choose from.",
    candidates_all: "{n} tracked users to choose from.",
    candidates_some: "Showing the first {n} tracked users. Search to narrow the list.",
    candidates_none: "No tracked user matches your search.",
    candidates_nobody: "Everyone in the organisation is opted out already.",
    list_heading: "Opt-out user list",
    list_help: "Everyone here is excluded from product usage tracking. Tick the people you want \
                tracked again, or use Select all, then press Opt-in. Tracking resumes for them \
                straight away.",
    list_caption: "Users whose product usage is not tracked",
    col_select: "Select",
    col_name: "Name",
    col_email: "Email",
    col_when: "Opted out",
    col_by: "By",
    select_all: "Select all",
    select_all_hint: "Ticks or clears every row of the list.",
    select_row: "Select {name}",
    opt_in_button: "Opt-in",
    opt_in_hint: "The ticked users are tracked again from the moment you press it.",
    list_empty: "Nobody is opted out: product usage is tracked for everyone in the organisation.",
    list_truncated: "Showing {shown} of {total} opted-out users, newest first.",
    actor_key: "service key {id}",
    actor_system: "the server (seed or import)",
    delay_heading: "Apps that are already open",
    delay_note: "An app remembers each person's tracking choice from when they signed in, so \
                 it may go on sending events until they sign out and in again. The server \
                 checks every event as it arrives and drops the ones from opted-out users, so \
                 none of them are kept.",
    message_label: "Result",
    done_out_one: "{names} is now opted out. Their usage events are discarded from now on.",
    done_out_many: "{names} are now opted out. Their usage events are discarded from now on.",
    done_in_one: "{names} is opted in again. Their usage is tracked from now on.",
    done_in_many: "{names} are opted in again. Their usage is tracked from now on.",
    and: "and",
    and_more: "{n} more",
    err_pick_user: "Choose a user in the list first, then press Opt-out.",
    err_pick_rows: "Tick at least one user in the table first, then press Opt-in.",
    err_unknown_user: "Nothing was changed: that user is no longer in the organisation's \
                       directory. The page now shows the current state.",
    err_failed: "Nothing was changed: the change could not be saved. Try again in a moment.",
    signed_out_title: "Sign in to continue",
    signed_out_body: "This page is for product admins, and you are not signed in, or your \
                      session has ended.",
    signed_out_how: "Open the one-time sign-in link you were given. If you have none, or it \
                     has been used or has expired, ask the person who runs the usage server \
                     for a new one. They make it with this command:",
    user_id_placeholder: "YOUR-USER-ID",
    forbidden_title: "You cannot open this page",
    forbidden_body: "Only product admins of this organisation can see or change who is \
                     tracked. Ask one of them if someone should be opted out or in.",
    stale_form_title: "The form could not be accepted",
    stale_form_body: "The form did not come from this page, or it belongs to an older \
                      session. Nothing was changed. Open the page again and repeat the change.",
    bad_request_title: "The request could not be read",
    bad_request_body: "Nothing was changed. Open the page again and repeat the change.",
    unavailable_title: "The settings are unavailable right now",
    unavailable_body: "The server could not reach its registry. Nothing was changed; try again \
                       in a moment.",
    back_to_page: "Back to the opt-out settings",
};

/// Swedish.
pub static SV: Strings = Strings {
    code: "sv",
    other_name: "English",
    other_code: "en",
    language_label: "Språk",
    site_name: "Användningsspårning",
    skip_link: "Hoppa till inställningarna",
    menu_label: "Huvudmeny",
    breadcrumb_label: "Du är här",
    tools: "Verktyg",
    product_usage: "Produktanvändning",
    page_title: "Undantag från spårning",
    signed_in_as: "Inloggad som",
    sign_out: "Logga ut",
    intro: "Bestäm vilka personer i organisationen som hålls utanför spårningen av hur \
            produkten används, och släpp in dem igen när du vill. Sidan är bara öppen för \
            produktadministratörer.",
    help: "Hjälp",
    opt_out_heading: "Undanta en användare",
    opt_out_help: "Välj någon som spåras i dag och tryck på Undanta. Från och med då kastar \
                   servern alla användningshändelser som registreras för personen, och hen \
                   flyttas till listan nedanför. Där kan du ångra det när som helst.",
    search_label: "Hitta en användare",
    search_hint: "Skriv en del av ett namn, en e-postadress eller ett användar-id.",
    search_button: "Sök",
    clear_search: "Visa alla",
    user_label: "Användare att undanta",
    user_hint: "Här finns bara användare som spåras just nu.",
    choose_user: "Välj en användare",
    opt_out_button: "Undanta",
    opt_out_hint: "Personens händelser kastas från det ögonblick du trycker.",
    candidates_one: "En spårad användare att välja bland.",
    candidates_all: "{n} spårade användare att välja bland.",
    candidates_some: "Visar de första {n} spårade användarna. Sök för att begränsa listan.",
    candidates_none: "Ingen spårad användare matchar sökningen.",
    candidates_nobody: "Alla i organisationen är redan undantagna.",
    list_heading: "Undantagna användare",
    list_help: "Ingen i den här listan spåras. Kryssa för dem som ska spåras igen, eller \
                använd Markera alla, och tryck sedan på Spåra igen. Spårningen börjar på nytt \
                direkt.",
    list_caption: "Användare vars produktanvändning inte spåras",
    col_select: "Välj",
    col_name: "Namn",
    col_email: "E-post",
    col_when: "Undantagen",
    col_by: "Av",
    select_all: "Markera alla",
    select_all_hint: "Kryssar för eller tar bort krysset på alla rader i listan.",
    select_row: "Välj {name}",
    opt_in_button: "Spåra igen",
    opt_in_hint: "De förkryssade användarna spåras igen från det ögonblick du trycker.",
    list_empty: "Ingen är undantagen: produktanvändningen spåras för alla i organisationen.",
    list_truncated: "Visar {shown} av {total} undantagna användare, de senaste först.",
    actor_key: "tjänstnyckel {id}",
    actor_system: "servern (förifyllning eller import)",
    delay_heading: "Appar som redan är öppna",
    delay_note: "En app kommer ihåg personens spårningsval från inloggningen och kan därför \
                 fortsätta skicka händelser tills personen loggar ut och in igen. Servern \
                 granskar varje händelse när den kommer fram och slänger dem som kommer från \
                 undantagna användare, så ingen av dem sparas.",
    message_label: "Resultat",
    done_out_one: "{names} är nu undantagen. Hens händelser kastas från och med nu.",
    done_out_many: "{names} är nu undantagna. Deras händelser kastas från och med nu.",
    done_in_one: "{names} spåras igen från och med nu.",
    done_in_many: "{names} spåras igen från och med nu.",
    and: "och",
    and_more: "{n} till",
    err_pick_user: "Välj först en användare i listan och tryck sedan på Undanta.",
    err_pick_rows: "Kryssa först för minst en användare i tabellen och tryck sedan på \
                    Spåra igen.",
    err_unknown_user: "Inget ändrades: användaren finns inte längre i organisationens \
                       katalog. Sidan visar nu det aktuella läget.",
    err_failed: "Inget ändrades: ändringen kunde inte sparas. Försök igen om en stund.",
    signed_out_title: "Logga in för att fortsätta",
    signed_out_body: "Sidan är till för produktadministratörer, och du är inte inloggad eller \
                      så har din session gått ut.",
    signed_out_how: "Öppna inloggningslänken du har fått; den fungerar en gång. Saknar du en \
                     länk, eller är den använd eller för gammal, be den som driver \
                     användningsservern om en ny. Den skapas med det här kommandot:",
    user_id_placeholder: "DITT-ANVÄNDAR-ID",
    forbidden_title: "Du kan inte öppna den här sidan",
    forbidden_body: "Bara organisationens produktadministratörer kan se och ändra vilka som \
                     spåras. Fråga någon av dem om någon ska undantas eller spåras igen.",
    stale_form_title: "Formuläret kunde inte tas emot",
    stale_form_body: "Formuläret kom inte från den här sidan, eller hör till en äldre session. \
                      Inget ändrades. Öppna sidan igen och gör om ändringen.",
    bad_request_title: "Begäran gick inte att läsa",
    bad_request_body: "Inget ändrades. Öppna sidan igen och gör om ändringen.",
    unavailable_title: "Inställningarna går inte att nå just nu",
    unavailable_body: "Servern kom inte åt sitt register. Inget ändrades; försök igen om en \
                       stund.",
    back_to_page: "Tillbaka till undantagsinställningarna",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_over_the_header() {
        assert_eq!(negotiate(Some("sv"), Some("en")), (Lang::Sv, true));
        assert_eq!(negotiate(Some("en"), Some("sv")), (Lang::En, true));
        assert_eq!(negotiate(Some("de"), Some("sv")), (Lang::Sv, false));
        assert_eq!(negotiate(None, None), (Lang::En, false));
    }

    #[test]
    fn the_header_is_read_in_q_order() {
        let pick = |h| negotiate(None, Some(h)).0;
        assert_eq!(pick("sv-SE,sv;q=0.9,en;q=0.8"), Lang::Sv);
        assert_eq!(pick("de, en;q=0.5, sv;q=0.7"), Lang::Sv);
        assert_eq!(pick("en;q=0.4, sv;q=0.4"), Lang::En);
        assert_eq!(pick("fr, de;q=0.9"), Lang::En);
        assert_eq!(pick("sv;q=0, en;q=0.1"), Lang::En);
        assert_eq!(pick("sv;q=banana, en;q=0.1"), Lang::En);
    }

    #[test]
    fn names_are_joined_naturally() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_names(&EN, &names(&["Bob"]), 1), "Bob");
        assert_eq!(join_names(&EN, &names(&["Bob", "Eve"]), 2), "Bob and Eve");
        assert_eq!(join_names(&SV, &names(&["A", "B", "C"]), 3), "A, B och C");
        assert_eq!(
            join_names(&EN, &names(&["A", "B", "C"]), 7),
            "A, B, C and 4 more"
        );
    }
}
