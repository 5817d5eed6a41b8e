//! One behavioural suite for every registry store: each case runs on SQLite
//! and on PostgreSQL (skipped locally when `USAGE_TEST_DATABASE_URL` is unset,
//! required in CI), so the two backends cannot drift apart.

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod credentials;
mod directory;
mod fixtures;
mod lists;
mod opt_outs;
mod postgres_only;
mod registry;

/// Makes a `#[tokio::test]` per case and backend. `both` cases take one
/// `Arc<dyn Store>`; `two_instances` cases take two stores sharing one
/// registry, which only PostgreSQL offers (SQLite is one file per process).
macro_rules! store_suite {
    (
        both: [$($module:ident :: $case:ident),* $(,)?],
        two_instances: [$($pair_module:ident :: $pair:ident),* $(,)?] $(,)?
    ) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::on_sqlite(crate::$module::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::on_postgres(|store| crate::$module::$case(store)).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $pair() {
                    crate::support::on_two_postgres_instances(crate::$pair_module::$pair).await;
                }
            )*
        }
    };
}

store_suite! {
    both: [
        directory::case_orgs_and_upsert_summary,
        directory::case_concurrent_upserts_count_each_user_once,
        directory::case_upsert_reports_progress,
        directory::case_list_search_filter_and_paging,
        directory::case_bad_cursor_is_refused,
        opt_outs::case_opt_out_and_in_are_idempotent_and_logged,
        opt_outs::case_unknown_users_change_nothing,
        opt_outs::case_revisions_contiguous_under_concurrency,
        opt_outs::case_opt_out_state_agrees_with_change_log,
        audit::case_audit_newest_first_paged_by_cursor,
        audit::case_audit_says_who_how_and_before_after,
        lists::case_opt_outs_page_newest_first_each_row_once,
        lists::case_opt_out_search_and_total,
        lists::case_paging_is_stable_under_concurrent_inserts,
        lists::case_deactivated_and_removed_users,
        credentials::case_signing_keys_one_current,
        credentials::case_service_keys_lookup_and_revoke,
        credentials::case_service_keys_keep_scopes_expiry_and_last_use,
        credentials::case_nonce_is_consumed_once,
        registry::case_registry_snapshot_equals_store,
    ],
    two_instances: [
        opt_outs::case_two_instances_share_one_contiguous_log,
        registry::case_two_registries_converge,
    ],
}
