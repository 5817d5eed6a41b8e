//! One read of the store's head at a time, shared by every caller waiting on
//! it, each answered by a read that started after it arrived.
//!
//! A shared registry must judge a batch with every change committed before
//! the batch arrived, so each batch needs a head read that *starts* after it
//! arrives. Reading once per batch costs a round trip per batch. Here a
//! caller that finds no read in flight starts one and leads it; a caller that
//! finds one in flight cannot use it (it may have started before the change
//! the caller must see), so it waits for the *next* read, which starts as soon
//! as the one in flight ends and answers everyone who arrived meanwhile. Under
//! load that is two reads in flight per round trip at most, whatever the
//! number of batches, and no caller waits longer than two round trips.
//!
//! A leader does not start its read at once: it first yields to the
//! runtime, once, and callers that come meanwhile join its read, which has
//! not started yet and so starts after them. Batches tend to come in bursts
//! (clients answered by one read send their next batches together); without
//! this, the first of a burst starts a read and the rest wait for the one
//! after it, a second round trip for them and a second read for the store.
//!
//! A leader whose future is dropped (its client went away) hands the lead to
//! the callers still waiting, so a cancelled request cannot strand them.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::watch;

/// Reads of type `T`, shared as described in the module docs.
#[derive(Debug)]
pub struct SharedRead<T> {
    gate: Mutex<Gate>,
    done: watch::Sender<(u64, Option<T>)>,
}

#[derive(Debug, Default)]
struct Gate {
    /// Number of the newest read led (reads are numbered from 1).
    started: u64,
    in_flight: bool,
    /// Whether the newest read is still gathering callers: its leader has
    /// not called the read yet, so it starts after anyone who joins now.
    gathering: bool,
}

impl<T: Clone> Default for SharedRead<T> {
    fn default() -> Self {
        Self {
            gate: Mutex::new(Gate::default()),
            done: watch::channel((0, None)).0,
        }
    }
}

impl<T: Clone> SharedRead<T> {
    /// The result of a `read` that started after this call: run here, or by
    /// another caller and shared.
    pub async fn run<F, Fut>(&self, read: F) -> T
    where
        F: Fn() -> Fut,
        Fut: Future<Output = T>,
    {
        let mut finished = self.done.subscribe();
        let (mut need, mut lead) = {
            let mut gate = self.lock();
            if gate.gathering {
                // That read has not started: it will start after this call.
                (gate.started, false)
            } else if gate.in_flight {
                // That read may have started before the change this caller
                // must see: wait for the next one.
                (gate.started + 1, false)
            } else {
                (self.start(&mut gate), true)
            }
        };
        loop {
            if lead {
                let mut handover = Handover {
                    owner: self,
                    number: need,
                    armed: true,
                };
                // Callers already runnable reach `run` during this yield and
                // join; from the moment the gate closes, newcomers wait for
                // the next read.
                tokio::task::yield_now().await;
                self.lock().gathering = false;
                let value = read().await;
                handover.armed = false;
                self.lock().in_flight = false;
                self.done.send_replace((need, Some(value.clone())));
                return value;
            }
            if let Some(value) = answered(&mut finished, need) {
                return value;
            }
            // The sender lives as long as `self`, so this cannot fail.
            let _ = finished.changed().await;
            if let Some(value) = answered(&mut finished, need) {
                return value;
            }
            // The read ended without answering this caller (it started too
            // early, or its leader went away): start the next one if no
            // other caller has.
            let mut gate = self.lock();
            if !gate.in_flight {
                need = self.start(&mut gate);
                lead = true;
            }
        }
    }

    fn start(&self, gate: &mut Gate) -> u64 {
        gate.started += 1;
        gate.in_flight = true;
        gate.gathering = true;
        gate.started
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Gives the lead back when a leading caller is dropped before its read ended.
struct Handover<'a, T> {
    owner: &'a SharedRead<T>,
    number: u64,
    armed: bool,
}

impl<T> Drop for Handover<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            let mut gate = self.owner.gate.lock().unwrap_or_else(|e| e.into_inner());
            gate.in_flight = false;
            gate.gathering = false;
            drop(gate);
            // Ended without a value: wakes the waiters, one of which starts
            // the next read.
            self.owner.done.send_replace((self.number, None));
        }
    }
}

/// The value of the newest finished read, if it is read `need` or later.
fn answered<T: Clone>(finished: &mut watch::Receiver<(u64, Option<T>)>, need: u64) -> Option<T> {
    let current = finished.borrow_and_update();
    match &current.1 {
        Some(value) if current.0 >= need => Some(value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn many_callers_share_few_reads_and_each_sees_a_read_started_after_it_came() {
        runtime().block_on(async {
            let shared = Arc::new(SharedRead::<u64>::default());
            // The "store": a counter that callers bump before they ask, and
            // a read that reports the counter as it was when the read began.
            let committed = Arc::new(AtomicU64::new(0));
            let reads = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..200 {
                let (shared, committed, reads) = (shared.clone(), committed.clone(), reads.clone());
                tasks.push(tokio::spawn(async move {
                    let mine = committed.fetch_add(1, Ordering::SeqCst) + 1;
                    let seen = shared
                        .run(|| {
                            let (committed, reads) = (committed.clone(), reads.clone());
                            async move {
                                reads.fetch_add(1, Ordering::SeqCst);
                                let at_start = committed.load(Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(5)).await;
                                at_start
                            }
                        })
                        .await;
                    assert!(seen >= mine, "saw {seen}, committed {mine} before asking");
                }));
            }
            for task in tasks {
                task.await.expect("caller");
            }
            let reads = reads.load(Ordering::SeqCst);
            assert!(reads < 100, "{reads} reads for 200 callers");
        });
    }

    #[test]
    fn a_burst_of_callers_shares_one_read_that_starts_after_all_of_them() {
        // One thread: the callers run in turn, as a burst of batches that
        // became ready together does on a busy runtime.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let shared = Arc::new(SharedRead::<u64>::default());
            let committed = Arc::new(AtomicU64::new(0));
            let reads = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let (shared, committed, reads) = (shared.clone(), committed.clone(), reads.clone());
                tasks.push(tokio::spawn(async move {
                    let mine = committed.fetch_add(1, Ordering::SeqCst) + 1;
                    let seen = shared
                        .run(|| {
                            reads.fetch_add(1, Ordering::SeqCst);
                            let at_start = committed.load(Ordering::SeqCst);
                            async move { at_start }
                        })
                        .await;
                    assert!(seen >= mine, "saw {seen}, committed {mine} before asking");
                }));
            }
            for task in tasks {
                task.await.expect("caller");
            }
            assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for the burst");
        });
    }

    #[test]
    fn a_dropped_leader_hands_the_read_to_those_waiting() {
        runtime().block_on(async {
            let shared = Arc::new(SharedRead::<u64>::default());
            let stuck = {
                let shared = shared.clone();
                tokio::spawn(async move {
                    shared
                        .run(|| async {
                            std::future::pending::<()>().await;
                            0
                        })
                        .await
                })
            };
            // Let the stuck caller take the lead, then join behind it.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let waiter = {
                let shared = shared.clone();
                tokio::spawn(async move { shared.run(|| async { 7 }).await })
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            stuck.abort();
            let value = tokio::time::timeout(Duration::from_secs(5), waiter)
                .await
                .expect("the waiter is not stranded")
                .expect("waiter");
            assert_eq!(value, 7);
        });
    }
}
