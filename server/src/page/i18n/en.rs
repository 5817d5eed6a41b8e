//! The page in English.

use super::Strings;

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
