//! `track()` while the user is opted out performs no heap allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use usage_sdk::protocol::Claims;
use usage_sdk::{DropReason, Tracked, Tracker};

/// Counts allocations made by the thread that switched counting on.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    static MEASURED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn note() {
    if COUNTING.load(Ordering::Relaxed) && MEASURED.with(|m| m.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// The only unsafe code in the project: the trait demands `unsafe impl`; every
// method hands the same arguments to the system allocator unchanged.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn tracking_while_opted_out_allocates_nothing() {
    let claims = Claims {
        org: "acme".into(),
        sub: "carol".into(),
        opt_out: true,
        rev: 1,
        iat: 1_700_000_000,
        exp: 4_000_000_000,
    };
    let token = format!("v1.k1.{}.c2ln", claims.encode_payload());
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = Tracker::builder("http://127.0.0.1:9")
        .data_dir(dir.path())
        .do_not_track(false)
        .build()
        .expect("builds");
    tracker.login(&token).expect("login");
    // Fill the debugger ring once, so the measured calls overwrite in place.
    for _ in 0..300 {
        tracker.track("warm.up", ());
    }

    MEASURED.with(|m| m.set(true));
    COUNTING.store(true, Ordering::SeqCst);
    let mut all_dropped = true;
    for _ in 0..1_000 {
        all_dropped &= tracker.track("screen.opened", ()) == Tracked::Dropped(DropReason::OptedOut);
    }
    COUNTING.store(false, Ordering::SeqCst);
    MEASURED.with(|m| m.set(false));

    assert!(all_dropped);
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0);
    tracker.shutdown(Duration::from_secs(1));
}
