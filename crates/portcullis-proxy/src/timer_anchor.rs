//! Keeps tokio's timer driver from waking its own thread for the upstream
//! timeouts Pingora arms on every proxied request.
//!
//! When its thread parks, tokio's time driver records the earliest pending
//! deadline. A timer armed afterwards with an earlier deadline — or armed
//! when no timer was pending at all — wakes the driver through its eventfd:
//! a `write(2)`, and an `epoll_wait` that returns at once, even though the
//! thread arming the timer is the driver's own and busy. Under load that
//! was one request in ten to fifteen (`scripts/bench syscalls`): whenever
//! the worker had parked with no upstream response outstanding.
//!
//! The anchor is one timer that is always pending and always due no later
//! than any upstream timeout armed after it (it sleeps `period` at a time,
//! and `period` is at most the shortest such timeout), so the recorded
//! deadline is never later than a new upstream timeout's, and arming one
//! never wakes the driver. It costs one wake-up per `period` per worker
//! thread.

use std::cell::Cell;
use std::time::Duration;

/// Timeouts shorter than this run on Pingora's own timer (see
/// `fast_timeout_to_tokio_threshold_seconds` in `server.rs`), not tokio's,
/// and an anchor this short would wake the thread too often to pay off.
const MIN_PERIOD: Duration = Duration::from_secs(1);

thread_local! {
    static ANCHORED: Cell<bool> = const { Cell::new(false) };
}

/// Spawns the anchor on the current tokio runtime, once per thread: called
/// on the forwarding path, so every worker thread that arms upstream
/// timeouts has one. `period` is the shortest upstream timeout armed on
/// tokio's timer; nothing happens when it is under a second or outside a
/// runtime.
pub fn ensure(period: Duration) {
    if ANCHORED.get() {
        return;
    }
    ANCHORED.set(true);
    if period < MIN_PERIOD {
        return;
    }
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            loop {
                tokio::time::sleep(period).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn one_anchor_per_thread() {
        let rt = runtime();
        rt.block_on(async {
            ensure(Duration::from_secs(30));
            ensure(Duration::from_secs(30));
            let metrics = tokio::runtime::Handle::current().metrics();
            assert_eq!(metrics.num_alive_tasks(), 1);
        });
    }

    #[test]
    fn no_anchor_for_sub_second_timeouts() {
        let rt = runtime();
        rt.block_on(async {
            ensure(Duration::from_millis(500));
            let metrics = tokio::runtime::Handle::current().metrics();
            assert_eq!(metrics.num_alive_tasks(), 0);
        });
    }

    #[test]
    fn outside_a_runtime_nothing_happens() {
        ensure(Duration::from_secs(30));
        assert!(ANCHORED.get());
    }
}
