//! `usage-server users import`: a directory from CSV, with a progress bar.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use usage_validator::model::{Actor, Role, UpsertSummary, User};
use usage_validator::registry::{check_id, check_user};

use crate::{open, CliResult, StoreArgs};

/// Users written per transaction.
const CHUNK: usize = 500;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The org to import into (created if missing).
    #[arg(long, env = "USAGE_ORG")]
    org: String,
    /// CSV file with a header row naming `id`, `name`, and optionally `email`
    /// and `role` (`admin` or `user`, default `user`).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

/// Reads and checks every row before anything is written, so a bad file
/// changes nothing.
fn read_users(path: &PathBuf) -> Result<Vec<User>, Box<dyn std::error::Error + Send + Sync>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(id_col), Some(name_col)) = (column("id"), column("name")) else {
        return Err("the CSV header must name at least `id` and `name` columns".into());
    };
    let (email_col, role_col) = (column("email"), column("role"));
    let mut users = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                errors.push(format!("line {line}: {err}"));
                continue;
            }
        };
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or("").to_owned();
        let role = match field(role_col).as_str() {
            "" => Ok(Role::User),
            other => other.parse::<Role>(),
        };
        let user = role.map(|role| User {
            id: field(Some(id_col)),
            name: field(Some(name_col)),
            email: field(email_col),
            role,
        });
        match user.and_then(|u| check_id(&u.id).and(check_user(&u)).map(|()| u)) {
            Ok(user) => users.push(user),
            Err(err) => errors.push(format!("line {line}: {err}")),
        }
        if errors.len() >= 20 {
            break;
        }
    }
    if !errors.is_empty() {
        return Err(format!(
            "nothing was imported; fix these rows first:\n  {}",
            errors.join("\n  ")
        )
        .into());
    }
    Ok(users)
}

/// Imports the file.
pub async fn run(args: ImportArgs) -> CliResult {
    check_id(&args.org)?;
    let users = read_users(&args.file)?;
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
    let mut total = UpsertSummary::default();
    for chunk in users.chunks(CHUNK) {
        let summary = store.upsert_users(&args.org, chunk, &Actor::System).await?;
        total.created += summary.created;
        total.updated += summary.updated;
        total.unchanged += summary.unchanged;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
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
