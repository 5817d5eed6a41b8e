//! Bounded polling for conditions that become true eventually.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// How often [`until`] asks again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `probe` until it yields `Some`, at most for `timeout`.
///
/// `what` names the condition in the [`Error::Timeout`] returned when time runs out.
/// The probe runs at least once, even with a zero timeout.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if started.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_value_the_probe_yields() {
        let mut calls = 0;
        let value = until("the third call", Duration::from_secs(5), || {
            calls += 1;
            let now = calls;
            async move { (now == 3).then_some(now) }
        })
        .await
        .expect("the probe succeeds on its third call");
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn gives_up_after_the_timeout_and_names_the_condition() {
        let error = until("never", Duration::from_millis(120), || async { None::<()> })
            .await
            .expect_err("the probe never succeeds");
        assert!(matches!(&error, Error::Timeout { what, .. } if what == "never"));
        assert!(error.to_string().contains("never"));
    }
}
