//! The heap as the memory allocator sees it, for `GET /stats`.
//!
//! A process's RSS answers "how much memory does the OS give this server?", not "is it leaking?".
//! Between the two sits the allocator: when a burst of connections closes, their buffers go back
//! to glibc's `malloc`, which keeps most of that memory for later instead of returning it (the
//! free chunks lie between live ones, and only the top of an arena can shrink). RSS stays up,
//! though nothing uses it. The lab's churn case saw exactly that (2026-11-28): 50 000 WebSocket
//! connect → first event → disconnect cycles raised RSS by 1.6 MB, while the bytes in live
//! allocations rose by 0.15 MB (`malloc_stats`), and a second 50 000 cycles added 9 KB.
//!
//! So `/stats` reports both figures from glibc's `mallinfo2`: [`HeapStats::allocated_bytes`]
//! (live allocations: a leak grows it) and [`HeapStats::held_bytes`] (what the allocator holds
//! from the OS: fragmentation and high-water marks grow it). `mallinfo2` walks every arena under
//! its lock, a few microseconds: fine for a `/stats` read, not for a hot path. Elsewhere than
//! glibc on Linux the figures are absent (`null`).
//!
//! **Handing free memory back.** jemalloc and tcmalloc return pages that stay free for a while
//! to the OS by themselves (jemalloc's decay, 10 s by default; tcmalloc's background release).
//! glibc returns only the top of an arena; pages freed in the middle stay in the process until
//! `malloc_trim(0)` hands them back (`madvise(MADV_DONTNEED)` on every free page, keeping the
//! chunks). So the server does what those allocators do, on a timer: every
//! `--heap-release-interval` (10 s by default; `0s` never) [`release_every`] calls it on a
//! blocking thread, because it walks every arena under its lock. After 100 000 short-poll churn
//! cycles that took RSS from 13.4 to 15.0 MB with the live heap flat, one call took it back to
//! 13.3 MB (2026-11-28, by hand with gdb). [`HeapStats::releases`] counts the calls, so that a
//! reader of `/stats` (the lab's churn case) can wait for one, and
//! [`HeapStats::last_release_us`] says what the last one cost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtlab_wire::HeapStats;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Releases done since the process started. Process-wide like the allocator itself: two servers
/// in one process (the integration tests) share one heap, and either's release trims it.
static RELEASES: AtomicU64 = AtomicU64::new(0);
/// What the last release took, µs.
static LAST_RELEASE_US: AtomicU64 = AtomicU64::new(0);

/// The allocator's figures now, where the allocator can tell (glibc on Linux).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn heap_stats() -> Option<HeapStats> {
    // SAFETY: `mallinfo2` takes no arguments and returns a plain struct by value; glibc locks
    // each arena while it sums it, so it is safe to call from any thread at any time.
    #[allow(unsafe_code)]
    let info = unsafe { libc::mallinfo2() };
    let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    Some(HeapStats {
        // `uordblks`: bytes in chunks in use in the arenas; `hblkhd`: bytes in chunks `malloc`
        // mmapped on their own (large allocations), all in use.
        allocated_bytes: as_u64(info.uordblks).saturating_add(as_u64(info.hblkhd)),
        // `arena`: bytes the arenas took from the OS (`sbrk` and their own mmaps).
        held_bytes: as_u64(info.arena).saturating_add(as_u64(info.hblkhd)),
        releases: RELEASES.load(Ordering::Relaxed),
        last_release_us: LAST_RELEASE_US.load(Ordering::Relaxed),
    })
}

/// The allocator's figures now, where the allocator can tell: not here.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn heap_stats() -> Option<HeapStats> {
    None
}

/// Hands the allocator's free pages back to the OS (glibc's `malloc_trim(0)`), and counts the
/// call in [`HeapStats::releases`]. Blocking: it walks every arena under its lock.
pub fn release_free_memory() {
    let started = Instant::now();
    trim();
    let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    LAST_RELEASE_US.store(took, Ordering::Relaxed);
    RELEASES.fetch_add(1, Ordering::Relaxed);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: `malloc_trim` takes a byte count to leave at the top (0: none) and returns whether
    // it released anything; glibc locks each arena while it trims, so any thread may call it.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators return free memory by themselves, or have no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

/// Calls [`release_free_memory`] every `interval` on a blocking thread until `shutdown` fires;
/// a zero interval returns at once (never release).
pub async fn release_every(interval: Duration, shutdown: CancellationToken) {
    if interval.is_zero() {
        return;
    }
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    // After a stall (a debugger, a suspended VM) one release does; a burst of them would not
    // free anything more.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(e) = tokio::task::spawn_blocking(release_free_memory).await {
            tracing::warn!("releasing free heap memory failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_live_allocation_counts_and_the_allocator_holds_at_least_what_is_live() {
        let before = heap_stats().unwrap();
        // 64 KiB, below glibc's mmap threshold's start (128 KiB): from an arena. Other tests'
        // threads allocate too, so the assertion leaves them room.
        let block = vec![1u8; 64 * 1024];
        let during = heap_stats().unwrap();
        assert!(
            during.allocated_bytes >= before.allocated_bytes + 32 * 1024,
            "{before:?} → {during:?}"
        );
        assert!(during.held_bytes >= during.allocated_bytes, "{during:?}");
        drop(block);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_release_hands_free_pages_in_the_middle_of_the_heap_back_to_the_os() {
        // 64 MiB in 1 KiB blocks, then every block freed but one in 64: the free pages lie
        // between live blocks, so glibc cannot shrink the top and keeps them until a release.
        let mut blocks: Vec<Vec<u8>> = (0..65_536).map(|_| vec![1u8; 1024]).collect();
        let kept: Vec<Vec<u8>> = blocks.drain(..).step_by(64).collect();
        let held = rss_bytes();
        let releases = heap_stats().unwrap().releases;
        release_free_memory();
        let released = rss_bytes();
        let after = heap_stats().unwrap();
        assert!(
            released + 32 * 1024 * 1024 < held,
            "RSS {held} → {released} bytes after a release"
        );
        assert!(after.releases > releases, "{after:?}");
        drop(kept);
    }

    /// This process's RSS from `/proc/self/statm` (resident pages × 4 KiB).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn rss_bytes() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    #[tokio::test]
    async fn the_release_task_stops_with_the_server_and_never_starts_at_zero() {
        release_every(Duration::ZERO, CancellationToken::new()).await;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(release_every(Duration::from_secs(10), shutdown.clone()));
        shutdown.cancel();
        task.await.unwrap();
    }
}
