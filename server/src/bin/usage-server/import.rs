//! `usage-server users import`: a directory from CSV, with a progress bar.
//! All or nothing: the rows are checked before anything is written, and
//! written in one transaction. Every change is recorded in the audit trail as
//! made at the command line by the operator (`--operator`, default the OS
//! user).

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use usage_server::user_rows::{self, RowsError};
use usage_validator::model::{Actor, Author, User, Via};
use usage_validator::registry::check_id;

use crate::{open, CliResult, StoreArgs};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The org to import into (created if missing).
    #[arg(long, env = "USAGE_ORG")]
    org: String,
    /// CSV file with a header row naming `id`, `name`, and optionally `email`
    /// and `role` (`admin` or `user`, default `user`).
    file: PathBuf,
    /// Who runs the import, as the audit trail names them (default: the OS
    /// user, from `USER` or `USERNAME`).
    #[arg(long, env = "USAGE_OPERATOR")]
    operator: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// The operator's name: as given, else the OS user; without control
/// characters and at most 64 characters, as the audit trail keeps it.
pub fn operator_name(given: Option<&str>) -> String {
    let from_env = || {
        ["USER", "USERNAME"]
            .into_iter()
            .find_map(|var| std::env::var(var).ok())
    };
    let name = given
        .map(str::to_owned)
        .or_else(from_env)
        .unwrap_or_default();
    let name: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
    let name = name.trim();
    if name.is_empty() {
        "unknown".to_owned()
    } else {
        name.to_owned()
    }
}

/// Reads and checks every row before anything is written, so a bad file
/// changes nothing.
fn read_users(path: &PathBuf) -> Result<Vec<User>, Box<dyn std::error::Error + Send + Sync>> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match user_rows::from_csv(&bytes) {
        Ok(users) => Ok(users),
        Err(RowsError::Rows { errors, total }) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| format!("line {}: {}", e.row, e.message))
                .collect();
            Err(format!(
                "nothing was imported; fix these rows first ({total} in all):\n  {}",
                lines.join("\n  ")
            )
            .into())
        }
        Err(other) => Err(format!("nothing was imported: {other}").into()),
    }
}

/// Imports the file.
pub async fn run(args: ImportArgs) -> CliResult {
    check_id(&args.org)?;
    let users = read_users(&args.file)?;
    let operator = operator_name(args.operator.as_deref());
    let author = Author::new(Actor::Operator(operator.clone()), Via::Cli).named(operator);
    let store = open::store(&args.store).await?;
    store.ensure_org(&args.org).await?;
    let bar = ProgressBar::new(users.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} users ({per_sec}, {eta} left)",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    let progress = |written: usize| bar.inc(written as u64);
    let written = store
        .upsert_users_reporting(&args.org, &users, &author, &progress)
        .await;
    bar.finish_and_clear();
    let total = written.map_err(|error| format!("nothing was imported: {error}"))?;
    println!(
        "imported {} users into `{}`: {} added, {} updated, {} unchanged",
        users.len(),
        args.org,
        total.created,
        total.updated,
        total.unchanged
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::operator_name;

    #[test]
    fn the_operator_is_named_cleanly() {
        assert_eq!(operator_name(Some(" ops\u{7}team ")), "opsteam");
        assert_eq!(operator_name(Some(&"x".repeat(100))).len(), 64);
        assert_eq!(operator_name(Some("  ")), "unknown");
    }
}
