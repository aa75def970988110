//! What every reliability case needs: a fresh server process with the case's settings, the
//! client's configuration against it, and the server's memory and open files from `/proc`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rtlab_client::RunConfig;
use rtlab_wire::{HeapStats, StatsSnapshot, Transport, paths};

use crate::proc_sampler::read_sample;
use crate::server_process::{Launch, ServerOptions, ServerProcess, ServerProcessError};

/// Most streaming connections the servers of this suite accept: above every case's count, so
/// that the cap is never what is measured.
const MAX_CONNECTIONS: u64 = 50_000;

/// Where the cases run: the server binary, the lab's own, and whether the server is pinned to
/// its core.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The `rtlab-server` binary.
    pub server_bin: PathBuf,
    /// The `rtlab` binary, whose hidden `hostile-clients` subcommand holds the hostile case's
    /// connections in a process of their own.
    pub rtlab_bin: PathBuf,
    /// Pin the server to its core (and one worker), as the comparison suites do.
    pub pin: bool,
}

impl Lab {
    /// Starts a fresh server publishing `rate` events/s of `payload_bytes` filler, with a
    /// `subscriber_queue` if given.
    pub async fn server(
        &self,
        rate: u64,
        payload_bytes: u64,
        subscriber_queue: Option<u64>,
    ) -> Result<ServerProcess, ServerProcessError> {
        self.server_with_args(rate, payload_bytes, subscriber_queue, Vec::new())
            .await
    }

    /// [`Lab::server`], told `extra_args` besides.
    pub async fn server_with_args(
        &self,
        rate: u64,
        payload_bytes: u64,
        subscriber_queue: Option<u64>,
        extra_args: Vec<std::ffi::OsString>,
    ) -> Result<ServerProcess, ServerProcessError> {
        let opts = ServerOptions {
            rate,
            payload_bytes,
            subscriber_queue,
            max_connections: MAX_CONNECTIONS,
            keepalive_interval: None,
            pin: self.pin,
            tls: None,
        };
        let launch = Launch {
            extra_args,
            ..Launch::default()
        };
        ServerProcess::start_with(&self.server_bin, &opts, &launch).await
    }
}

/// The client's run of `transport` against `server`: `clients` subscribers, `window` measured
/// after `warmup`, connecting at `connect_rate`.
pub fn client_config(
    server: &ServerProcess,
    transport: Transport,
    clients: u64,
    warmup: Duration,
    window: Duration,
    connect_rate: f64,
) -> RunConfig {
    let url = match transport {
        Transport::Tcp => format!("tcp://{}", server.tcp),
        _ => format!("http://{}", server.http),
    };
    RunConfig {
        control_url: Some(format!("http://{}", server.http)),
        clients,
        warmup,
        duration: window,
        connect_rate,
        // Each promise is about what the server does to a connection (cut it, close it, end
        // it); a client that reconnected would measure its own retries instead.
        reconnect_give_up: None,
        ..RunConfig::new(transport, url)
    }
}

/// The server's heap as its allocator sees it (`/stats` `heap`), or `None` if it does not say
/// (or does not answer). Its connection is not kept for later.
pub async fn heap(server: &ServerProcess) -> Option<HeapStats> {
    let url = format!("http://{}{}", server.http, paths::STATS);
    let response = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .ok()?
        .get(url)
        .send()
        .await
        .ok()?;
    response.json::<StatsSnapshot>().await.ok()?.heap
}

/// Waits until the server has handed its allocator's free memory back to the OS once more (its
/// `/stats` `heap.releases` grows), then a moment for the `/stats` connections to close, so that
/// RSS read next counts what the server uses. `true` at once for a server that reports no heap
/// (it has nothing to release); `false` if the release did not come within its `interval` and 5 s
/// more.
pub async fn after_a_heap_release(server: &ServerProcess, interval: Duration) -> bool {
    let Some(start) = heap(server).await else {
        return true;
    };
    let deadline = Instant::now() + interval + Duration::from_secs(5);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if heap(server)
            .await
            .is_some_and(|h| h.releases > start.releases)
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return true;
        }
    }
    false
}

/// The process's open file descriptors (`/proc/PID/fd`), or `None` once it is gone.
pub fn open_fds(pid: u32) -> Option<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(dir.filter(Result::is_ok).count() as u64)
}

/// The process's resident memory in bytes, or `None` once it is gone.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    read_sample(pid).ok().map(|s| s.rss_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_open_files_and_memory() {
        let me = std::process::id();
        assert!(open_fds(me).is_some_and(|n| n >= 3));
        assert!(rss_bytes(me).is_some_and(|b| b > 1 << 20));
        assert_eq!(open_fds(u32::MAX), None);
    }
}
