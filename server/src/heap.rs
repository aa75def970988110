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

use rtlab_wire::HeapStats;

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
    })
}

/// The allocator's figures now, where the allocator can tell: not here.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn heap_stats() -> Option<HeapStats> {
    None
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
}
