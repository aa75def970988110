//! The five ways the one feed leaves the server.
//!
//! | transport | who speaks first | connection | how an event travels |
//! |---|---|---|---|
//! | `ws` | client upgrades once | one, full duplex | a WebSocket text frame |
//! | `sse` | client asks once | one, server to client | an SSE `id:`/`data:` block in a chunked body |
//! | `long-poll` | client asks every time | re-requested after each answer | a JSON array in a response |
//! | `short-poll` | client asks on a timer | re-requested on a timer | a JSON array in a response |
//! | `tcp` | nobody: bytes flow on connect | one, server to client | the event JSON and `\n` |
//!
//! Raw TCP is not a web transport: it has no handshake and no headers, and marks the floor the
//! others are measured against.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::WireError;

/// One of the lab's transports. Its text form (`ws`, `sse`, `long-poll`, `short-poll`, `tcp`) is
/// used on the command line, in `/stats`, and in result files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Transport {
    /// WebSocket (RFC 6455), `GET /ws`.
    Ws,
    /// Server-Sent Events, `GET /sse`.
    Sse,
    /// Long polling, `GET /poll/long`.
    LongPoll,
    /// Short polling, `GET /poll/short`.
    ShortPoll,
    /// The raw-TCP baseline listener.
    Tcp,
}

impl Transport {
    /// Every transport, in the order charts and tables show them.
    pub const ALL: [Transport; 5] = [
        Transport::Ws,
        Transport::Sse,
        Transport::LongPoll,
        Transport::ShortPoll,
        Transport::Tcp,
    ];

    /// The text form: `ws`, `sse`, `long-poll`, `short-poll`, `tcp`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Sse => "sse",
            Transport::LongPoll => "long-poll",
            Transport::ShortPoll => "short-poll",
            Transport::Tcp => "tcp",
        }
    }

    /// Whether the server pushes over one long-lived connection (as opposed to answering polls).
    pub const fn is_streaming(self) -> bool {
        matches!(self, Transport::Ws | Transport::Sse | Transport::Tcp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transport {
    type Err = WireError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transport::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| WireError::UnknownTransport(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_through_str_and_serde() {
        for t in Transport::ALL {
            assert_eq!(t.as_str().parse::<Transport>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{t}\""));
        }
        assert!("websocket".parse::<Transport>().is_err());
    }
}
