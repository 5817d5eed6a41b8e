//! The page in Swedish.

use super::Strings;

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
