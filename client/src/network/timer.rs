//! A precise timer for the shaper: release times to ~0.1 ms, where tokio's are ~1–3 ms late.
//!
//! tokio's timer wheel ticks in whole milliseconds and parks the runtime with an `epoll_wait`
//! timeout rounded up to the next millisecond, so a `sleep_until` wakes 0.4–3 ms late (1.2 ms
//! at the median, measured here on a current-thread runtime). For a web server's timeouts that
//! is nothing; for a shaper that must add exactly 20 ms per direction it is a 6 % error per
//! transit, and calibration would catch it (`calibrate.rs`: within 5 % of the link's RTT).
//!
//! So the shaper's releases wait on this timer instead: one OS thread keeps the pending
//! deadlines in a heap and sleeps on a condition variable until the earliest (a futex wait,
//! precise to the kernel's 50 µs timer slack), then wakes the tasks whose time has come. Waking
//! a task on the shaper's runtime from another thread unparks that runtime at once (an
//! `eventfd` write), so the chunk goes out within ~0.2 ms of its release time; the timer aims
//! [`LEAD`] early to centre that error on the deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How much earlier than its deadline a sleeper is woken: the futex wake-up of the timer thread
/// and the cross-thread wake of the task take about this long together (0.2–0.3 ms measured on
/// a busy 2-core machine), so that aiming early centres the actual release on the deadline
/// instead of always after it.
pub const LEAD: Duration = Duration::from_micros(150);

/// One pending deadline. Ordered by time only (the waker has no order).
struct Entry {
    at: Instant,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    stopped: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    /// The state, even if a thread panicked while holding it (it holds only plain data).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A handle to the timer thread; cheap to clone. The thread stops when [`stop`](Self::stop) is
/// called (the shaper does so when dropped).
#[derive(Clone)]
pub struct PreciseTimer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PreciseTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreciseTimer").finish_non_exhaustive()
    }
}

impl PreciseTimer {
    /// Starts the timer thread.
    pub fn start(name: String) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(name)
                .spawn(move || run(&shared))?
        };
        Ok((Self { shared }, thread))
    }

    /// A future that completes at `at` (at once if `at` is past).
    pub fn sleep_until(&self, at: Instant) -> Sleep {
        Sleep {
            at,
            timer: self.clone(),
        }
    }

    /// Ends the thread; pending sleeps are woken and then never again.
    pub fn stop(&self) {
        let mut state = self.shared.lock();
        state.stopped = true;
        for Reverse(e) in state.heap.drain() {
            e.waker.wake();
        }
        self.shared.changed.notify_one();
    }

    fn register(&self, at: Instant, waker: Waker) {
        let mut state = self.shared.lock();
        if state.stopped {
            waker.wake();
            return;
        }
        let earliest = state.heap.peek().is_none_or(|Reverse(e)| at < e.at);
        state.heap.push(Reverse(Entry { at, waker }));
        if earliest {
            self.shared.changed.notify_one();
        }
    }
}

fn run(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.stopped {
            return;
        }
        let now = Instant::now();
        while state
            .heap
            .peek()
            .is_some_and(|Reverse(e)| e.at <= now + LEAD)
        {
            if let Some(Reverse(e)) = state.heap.pop() {
                e.waker.wake();
            }
        }
        state = match state.heap.peek().map(|Reverse(e)| e.at) {
            Some(at) => {
                let wait = at.saturating_duration_since(now + LEAD);
                shared
                    .changed
                    .wait_timeout(state, wait)
                    .map(|(s, _)| s)
                    .unwrap_or_else(|e| e.into_inner().0)
            }
            None => shared
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner()),
        };
    }
}

/// See [`PreciseTimer::sleep_until`].
#[derive(Debug)]
pub struct Sleep {
    at: Instant,
    timer: PreciseTimer,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() + LEAD >= self.at || self.timer.shared.lock().stopped {
            return Poll::Ready(());
        }
        // A spurious poll registers again: at worst one extra wake-up, never a lost one.
        self.timer.register(self.at, cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A started timer, its thread, and a current-thread runtime to sleep on it from.
    fn timer_and_runtime() -> (
        PreciseTimer,
        std::thread::JoinHandle<()>,
        tokio::runtime::Runtime,
    ) {
        let (timer, thread) = PreciseTimer::start("timer-test".into()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (timer, thread, rt)
    }

    #[test]
    fn wakes_within_a_fraction_of_a_millisecond_where_tokio_is_late() {
        // Lateness is measured from the deadline; a sleeper woken early (by up to LEAD) counts 0.
        let (timer, thread, rt) = timer_and_runtime();
        let lateness = |precise: bool| {
            rt.block_on(async {
                let mut late = Vec::new();
                for i in 0..40u64 {
                    let at = Instant::now() + Duration::from_micros(5_000 + i * 37);
                    if precise {
                        timer.sleep_until(at).await;
                    } else {
                        tokio::time::sleep_until(at.into()).await;
                    }
                    late.push(at.elapsed());
                }
                late.sort();
                late[late.len() / 2]
            })
        };
        let (ours, tokios) = (lateness(true), lateness(false));
        assert!(ours < Duration::from_micros(500), "median {ours:?} late");
        assert!(ours < tokios, "ours {ours:?}, tokio's {tokios:?}");
        timer.stop();
        thread.join().unwrap();
    }

    #[test]
    fn deadlines_fire_in_order_and_stop_ends_the_thread() {
        let (timer, thread, rt) = timer_and_runtime();
        let t0 = Instant::now();
        let order = rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            for ms in [30u64, 10, 20] {
                let (timer, tx) = (timer.clone(), tx.clone());
                tokio::spawn(async move {
                    timer.sleep_until(t0 + Duration::from_millis(ms)).await;
                    let _ = tx.send(ms);
                });
            }
            drop(tx);
            let mut order = Vec::new();
            while let Some(ms) = rx.recv().await {
                order.push(ms);
            }
            order
        });
        assert_eq!(order, [10, 20, 30]);
        assert!(t0.elapsed() >= Duration::from_millis(30));
        timer.stop();
        thread.join().unwrap();
        // After stop a sleep does not hang.
        rt.block_on(timer.sleep_until(Instant::now() + Duration::from_secs(60)));
    }
}
