//! A bounded pool: at most `concurrency` jobs at once, each on its own scoped thread (the
//! SNMP and HTTP clients block), results in input order. A job's failure is a value; nothing a
//! job returns stops the others.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Stack of a worker thread: `snmp2` builds its session (with a 64 KiB receive buffer) on
/// the stack, several copies deep in a debug build. Only the pages touched are resident.
const WORKER_STACK_BYTES: usize = 8 << 20;

/// Runs `job` on every item, at most `concurrency` at once; the results in `items`' order.
pub(crate) fn run_bounded<T: Sync, R: Send>(items: &[T], concurrency: usize, job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    let work = || {
        let mut local = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            local.push((i, job(item)));
        }
        if let Ok(mut done) = done.lock() {
            done.append(&mut local);
        }
    };
    let workers = concurrency.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        let mut spawned = 0_usize;
        for _ in 0..workers {
            if std::thread::Builder::new().stack_size(WORKER_STACK_BYTES).spawn_scoped(scope, work).is_ok() {
                spawned = spawned.saturating_add(1);
            }
        }
        // Out of threads: the caller's thread does the work (slower, never lost).
        if spawned == 0 {
            work();
        }
    });
    let mut done = done.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn at_most_concurrency_jobs_run_at_once_and_results_keep_their_order() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<u32> = (0..40).collect();
        let out = run_bounded(&items, 4, |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let peak = peak.load(Ordering::SeqCst);
        assert!((2..=4).contains(&peak), "peak {peak}");
        assert!(run_bounded(&Vec::<u32>::new(), 4, |i| *i).is_empty());
    }
}
