//! Servers other than ours that are still within the specs: the client must measure them too.
//!
//! A WebSocket server may fragment any message (RFC 6455 §5.4) and ping at any time, also between
//! the fragments of a message (§5.5); the client must reassemble the event and answer every ping
//! with a pong carrying the same payload (§5.5.3). tokio-tungstenite does both; this pins it.

use std::sync::Arc;
use std::time::Duration;

use rtlab_client::RunConfig;
use rtlab_wire::{Event, Transport, now_unix_nanos};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

const EVENTS: u64 = 10;

/// One unmasked server frame.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let mut f = vec![u8::from(fin) << 7 | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// A WebSocket server that sends every event in three fragments, with a ping between the first
/// two, and records the payloads of the pongs it gets back.
async fn fragmenting_server(pongs: Arc<Mutex<Vec<Vec<u8>>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        // Anything but the WebSocket upgrade (a `/stats` request) is a 404: this fake has none.
        let (mut rd, mut wr, key) = loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let (mut rd, mut wr) = sock.into_split();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if rd.read_exact(&mut byte).await.is_err() {
                    break;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let key = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            });
            match key {
                Some(key) => break (rd, wr, key),
                None => {
                    let _ = wr
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                        .await;
                }
            }
        };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        wr.write_all(response.as_bytes()).await.expect("head");
        // Read the client's frames (masked) and keep the pongs.
        tokio::spawn(async move {
            loop {
                let mut h = [0u8; 2];
                if rd.read_exact(&mut h).await.is_err() {
                    return;
                }
                let len = usize::from(h[1] & 0x7F);
                assert!(h[1] & 0x80 != 0 && len < 126, "masked short frames");
                let mut key = [0u8; 4];
                let mut payload = vec![0u8; len];
                if rd.read_exact(&mut key).await.is_err()
                    || rd.read_exact(&mut payload).await.is_err()
                {
                    return;
                }
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= key[i % 4];
                }
                if h[0] & 0x0F == 0xA {
                    pongs.lock().await.push(payload);
                }
            }
        });
        // Start once the client's measured window has surely begun.
        tokio::time::sleep(Duration::from_millis(100)).await;
        for seq in 1..=EVENTS {
            let json = Event {
                seq,
                ts: now_unix_nanos(),
                data: "fragmented".into(),
            }
            .to_json();
            let (a, rest) = json.split_at(5);
            let (b, c) = rest.split_at(rest.len() / 2);
            let mut bytes = frame(false, 0x1, a);
            bytes.extend(frame(true, 0x9, format!("ping {seq}").as_bytes()));
            bytes.extend(frame(false, 0x0, b));
            bytes.extend(frame(true, 0x0, c));
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_events_and_pings_between_fragments() {
    let pongs = Arc::new(Mutex::new(Vec::new()));
    let url = fragmenting_server(pongs.clone()).await;
    let config = RunConfig {
        clients: 1,
        duration: Duration::from_millis(700),
        warmup: Duration::ZERO,
        connect_rate: 1_000_000.0,
        ..RunConfig::new(Transport::Ws, url)
    };
    let report = tokio::time::timeout(Duration::from_secs(15), rtlab_client::run(config))
        .await
        .expect("the run ends")
        .expect("the run succeeds");
    assert_eq!(report.events_received, EVENTS, "{report:?}");
    assert_eq!(report.lost, 0);
    // Without /stats the latency population is the distinct events that arrived in the window.
    assert_eq!(
        report.latency_us.count,
        report.events_received - report.duplicates,
        "{report:?}"
    );
    let pongs = pongs.lock().await.clone();
    let expected: Vec<Vec<u8>> = (1..=EVENTS)
        .map(|seq| format!("ping {seq}").into_bytes())
        .collect();
    assert_eq!(pongs, expected);
}
