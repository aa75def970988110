//! The reverse proxy in front: nginx, with one of the two configurations the project ships.
//!
//! Most real-time deployments put a reverse proxy (nginx, a cloud load balancer) between the
//! clients and the servers, and that hop is where WebSockets and SSE most often break: a proxy
//! that does not pass the `Upgrade` header on refuses every WebSocket, one that buffers responses
//! holds SSE events back, one whose read timeout is shorter than the heartbeat cuts idle streams.
//! The lab ships two nginx configurations to measure exactly that ([`Proxy`]):
//!
//! - [`Proxy::Naive`] (`scripts/nginx/naive.conf`): `proxy_pass` and nginx's defaults;
//! - [`Proxy::Lab`] (`scripts/nginx/lab.conf`): correct for every transport, each directive
//!   commented with what it fixes.
//!
//! Both are templates, built into `rtlab` (`include_str!`) and rendered ([`NginxConfig::render`])
//! with the address to listen on, the nodes to balance over, a temporary prefix that holds every
//! file nginx writes, and the read timeout (each template's own unless a test shortens it).
//! nginx then runs unprivileged-safe from that prefix, in the foreground:
//!
//! ```text
//! nginx -p PREFIX -c PREFIX/nginx.conf -g 'daemon off;'
//! ```
//!
//! nginx cannot listen on port 0 and report the port, so the proxy's port is found by binding a
//! free one and closing it just before nginx binds it; if another program takes it in between,
//! nginx fails with "Address already in use" and the start is retried on a new port.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use nix::sys::signal::Signal;

use super::child::Child;
use super::error::ClusterError;

/// The program.
pub const NGINX: &str = "nginx";
/// Debian's package of [`NGINX`] (the smallest build, which has every module the templates use).
pub const NGINX_PACKAGE: &str = "nginx-light";
/// Longest wait for the proxy to answer `GET /stats`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// Ports tried when the chosen one is taken between choosing and binding.
const PORT_ATTEMPTS: usize = 3;
/// Open files per nginx worker, at most: the lab machine's hard limit.
const RLIMIT_NOFILE_CAP: u64 = 20_000;
/// Files a worker needs besides its connections (listener, stderr, the channel to the master).
const RESERVED_FILES: u64 = 100;

/// Which nginx configuration stands in front of the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proxy {
    /// What people deploy first: `proxy_pass` and nginx's defaults (HTTP/1.0 upstream, no
    /// Upgrade header, buffering, 60 s read timeout).
    Naive,
    /// Correct for every transport: HTTP/1.1 and the Upgrade/Connection headers, no buffering,
    /// a read timeout above the long-poll timeout, keep-alive to the nodes, round-robin.
    Lab,
}

impl Proxy {
    /// Its template, as shipped in `scripts/nginx/`.
    pub fn template(self) -> &'static str {
        match self {
            Proxy::Naive => include_str!("../../../scripts/nginx/naive.conf"),
            Proxy::Lab => include_str!("../../../scripts/nginx/lab.conf"),
        }
    }

    /// The read timeout the configuration sets: nginx's default 60 s for `naive`; for `lab`,
    /// 75 s, above the contract's longest long poll (60 s) and the heartbeat and ping intervals.
    pub fn read_timeout(self) -> Duration {
        match self {
            Proxy::Naive => Duration::from_secs(60),
            Proxy::Lab => Duration::from_secs(75),
        }
    }

    /// `naive` or `lab`.
    pub fn name(self) -> &'static str {
        match self {
            Proxy::Naive => "naive",
            Proxy::Lab => "lab",
        }
    }
}

/// The values a template is rendered with.
#[derive(Debug, Clone, PartialEq)]
pub struct NginxConfig {
    /// The configuration.
    pub proxy: Proxy,
    /// Where nginx listens.
    pub listen: SocketAddr,
    /// The nodes' HTTP addresses, balanced round-robin.
    pub upstreams: Vec<SocketAddr>,
    /// The folder every file nginx writes goes to (pid, temp files).
    pub prefix: std::path::PathBuf,
    /// `proxy_read_timeout` (the template's own: [`Proxy::read_timeout`]; tests shorten it).
    pub read_timeout: Duration,
    /// Open files per worker (`worker_rlimit_nofile`).
    pub rlimit_nofile: u64,
    /// Add `user root;` (when started as root: the workers then keep access to the prefix).
    pub as_root: bool,
}

impl NginxConfig {
    /// The settings for `proxy` in front of `upstreams`, with this process's limits.
    pub fn new(
        proxy: Proxy,
        listen: SocketAddr,
        upstreams: Vec<SocketAddr>,
        prefix: &Path,
    ) -> Self {
        let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(_, hard)| hard)
            .unwrap_or(RLIMIT_NOFILE_CAP);
        NginxConfig {
            proxy,
            listen,
            upstreams,
            prefix: prefix.to_path_buf(),
            read_timeout: proxy.read_timeout(),
            rlimit_nofile: hard.min(RLIMIT_NOFILE_CAP),
            as_root: nix::unistd::geteuid().is_root(),
        }
    }

    /// The template with every `{{field}}` filled in.
    pub fn render(&self) -> Result<String, ClusterError> {
        let servers: String = self
            .upstreams
            .iter()
            .map(|a| format!("        server {a};\n"))
            .collect();
        let fields = [
            (
                "user",
                if self.as_root { "user root;" } else { "" }.to_owned(),
            ),
            ("rlimit_nofile", self.rlimit_nofile.to_string()),
            (
                "worker_connections",
                self.rlimit_nofile
                    .saturating_sub(RESERVED_FILES)
                    .max(64)
                    .to_string(),
            ),
            ("prefix", self.prefix.display().to_string()),
            ("listen", self.listen.to_string()),
            ("servers", servers.trim_end().to_owned()),
            (
                "read_timeout",
                format!("{}ms", self.read_timeout.as_millis().max(1)),
            ),
        ];
        let mut text = self.proxy.template().to_owned();
        for (name, value) in fields {
            text = text.replace(&format!("{{{{{name}}}}}"), &value);
        }
        match text.find("{{") {
            None => Ok(text),
            Some(at) => Err(ClusterError::Template {
                proxy: self.proxy.name(),
                field: text[at..].chars().take_while(|c| *c != '\n').collect(),
            }),
        }
    }
}

/// A running nginx; stopped by [`Nginx::stop`], killed (workers too) on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    addr: SocketAddr,
}

impl Nginx {
    /// Renders `proxy` in front of `upstreams` into `prefix`, starts nginx on `listen` (or a free
    /// loopback port), and waits until `GET /stats` through it answers 200.
    pub async fn start(
        program: &Path,
        proxy: Proxy,
        listen: Option<SocketAddr>,
        upstreams: &[SocketAddr],
        prefix: &Path,
        read_timeout: Option<Duration>,
    ) -> Result<Self, ClusterError> {
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let at = match listen {
                Some(a) => a,
                None => free_port().map_err(ClusterError::TempDir)?,
            };
            let mut config = NginxConfig::new(proxy, at, upstreams.to_vec(), prefix);
            if let Some(t) = read_timeout {
                config.read_timeout = t;
            }
            match Self::start_once(program, &config).await {
                Err(e) if listen.is_none() && e.to_string().contains("Address already in use") => {
                    last = Some(e);
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| ClusterError::Startup {
            program: NGINX,
            reason: "no free port".into(),
            tail: String::new(),
        }))
    }

    async fn start_once(program: &Path, config: &NginxConfig) -> Result<Self, ClusterError> {
        let conf = config.prefix.join("nginx.conf");
        std::fs::write(&conf, config.render()?).map_err(ClusterError::TempDir)?;
        let args: Vec<OsString> = vec![
            "-p".into(),
            config.prefix.as_os_str().into(),
            "-c".into(),
            conf.into_os_string(),
            "-g".into(),
            "daemon off;".into(),
        ];
        // Its start-up lines are only warnings and errors; the tail keeps them.
        let (child, _lines) =
            Child::spawn(NGINX, program, &args).map_err(|cause| ClusterError::Spawn {
                program: NGINX,
                cause,
            })?;
        let nginx = Nginx {
            child,
            addr: config.listen,
        };
        nginx.await_front().await?;
        Ok(nginx)
    }

    /// Polls `GET /stats` through the proxy until it answers 200: nginx listens *and* reaches a
    /// node.
    async fn await_front(&self) -> Result<(), ClusterError> {
        let url = format!("{}/stats", self.url());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| self.startup_error(format!("no HTTP client: {e}")))?;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut last;
        loop {
            if let Some(status) = self.child.exit_status() {
                // Let the last lines of its stderr arrive before quoting them.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Err(self.startup_error(format!("it exited ({status})")));
            }
            match http.get(&url).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => last = format!("GET /stats answered {}", r.status()),
                Err(e) => last = format!("GET /stats failed: {e}"),
            }
            if Instant::now() >= deadline {
                return Err(
                    self.startup_error(format!("not answering within {STARTUP_TIMEOUT:?}: {last}"))
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether it has exited.
    pub fn exited(&self) -> bool {
        self.child.exit_status().is_some()
    }

    /// The master process's id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Stops it: `SIGTERM` (nginx's fast shutdown, which closes open connections at once; the
    /// graceful `SIGQUIT` would wait for every WebSocket and SSE stream to end), then `SIGKILL`
    /// to the master and its workers after a timeout.
    pub async fn stop(&mut self) {
        self.child.stop(Signal::SIGTERM).await;
    }

    fn startup_error(&self, reason: String) -> ClusterError {
        ClusterError::Startup {
            program: NGINX,
            reason,
            tail: self.child.tail(),
        }
    }
}

/// A loopback port free right now (bound, then released for nginx to bind).
fn free_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(proxy: Proxy) -> NginxConfig {
        NginxConfig {
            proxy,
            listen: "127.0.0.1:9000".parse().unwrap(),
            upstreams: vec![
                "127.0.0.1:8001".parse().unwrap(),
                "127.0.0.1:8002".parse().unwrap(),
            ],
            prefix: "/tmp/rtlab-nginx-x".into(),
            read_timeout: proxy.read_timeout(),
            rlimit_nofile: 20_000,
            as_root: true,
        }
    }

    #[test]
    fn both_templates_render_every_field() {
        for proxy in [Proxy::Naive, Proxy::Lab] {
            let text = config(proxy).render().unwrap();
            assert!(!text.contains("{{"), "{proxy:?}");
            assert!(text.contains("listen 127.0.0.1:9000;"));
            assert!(text.contains("server 127.0.0.1:8001;\n        server 127.0.0.1:8002;"));
            assert!(text.contains("pid /tmp/rtlab-nginx-x/nginx.pid;"));
            assert!(text.contains("user root;"));
            assert!(text.contains("worker_rlimit_nofile 20000;"));
            assert!(text.contains("worker_connections 19900;"));
        }
        // The directives alone: the comments name what naive lacks.
        let directives = |text: String| -> String {
            text.lines()
                .map(|l| l.split('#').next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let naive = directives(config(Proxy::Naive).render().unwrap());
        assert!(naive.contains("proxy_read_timeout 60000ms;"));
        assert!(!naive.contains("proxy_http_version"));
        assert!(!naive.contains("proxy_set_header"));
        let lab = directives(config(Proxy::Lab).render().unwrap());
        assert!(lab.contains("proxy_read_timeout 75000ms;"));
        for directive in [
            "proxy_http_version 1.1;",
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection $connection_upgrade;",
            "proxy_buffering off;",
            "keepalive 64;",
        ] {
            assert!(lab.contains(directive), "{directive}");
        }
        let mut unprivileged = config(Proxy::Lab);
        unprivileged.as_root = false;
        assert!(!directives(unprivileged.render().unwrap()).contains("user root;"));
    }
}
