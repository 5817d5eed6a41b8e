//! Where a tracker keeps its files unless told otherwise, and `DO_NOT_TRACK`.

use std::ffi::OsString;
use std::path::PathBuf;

/// `<data folder>/usage-sdk/<app>`, where the data folder is
/// `$XDG_DATA_HOME` or `~/.local/share` on Linux and other Unix systems,
/// `~/Library/Application Support` on macOS, and `%LOCALAPPDATA%` on Windows.
pub(crate) fn default_data_dir(app: &str) -> Option<PathBuf> {
    let base = data_home(|name| std::env::var_os(name))?;
    Some(base.join("usage-sdk").join(app))
}

fn non_empty(value: Option<OsString>) -> Option<PathBuf> {
    value.filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn data_home(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if cfg!(windows) {
        return non_empty(var("LOCALAPPDATA"));
    }
    let home = non_empty(var("HOME"));
    if cfg!(target_os = "macos") {
        return home.map(|h| h.join("Library").join("Application Support"));
    }
    non_empty(var("XDG_DATA_HOME")).or_else(|| home.map(|h| h.join(".local").join("share")))
}

/// Whether `DO_NOT_TRACK` asks for no tracking: `1`, `true` or `yes`.
pub(crate) fn do_not_track(value: Option<OsString>) -> bool {
    value
        .and_then(|v| v.into_string().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(unix, not(target_os = "macos")))]
    fn xdg_data_home_wins_over_home() {
        let vars = |name: &str| match name {
            "XDG_DATA_HOME" => Some(OsString::from("/xdg")),
            "HOME" => Some(OsString::from("/home/u")),
            _ => None,
        };
        assert_eq!(data_home(vars), Some(PathBuf::from("/xdg")));
        let no_xdg = |name: &str| (name == "HOME").then(|| OsString::from("/home/u"));
        assert_eq!(
            data_home(no_xdg),
            Some(PathBuf::from("/home/u/.local/share"))
        );
        assert_eq!(data_home(|_| None), None);
    }

    #[test]
    fn do_not_track_reads_the_usual_spellings() {
        assert!(do_not_track(Some("1".into())));
        assert!(do_not_track(Some(" TRUE ".into())));
        assert!(!do_not_track(Some("0".into())));
        assert!(!do_not_track(None));
    }
}
