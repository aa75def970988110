//! Hex dumps: how the tracer shows bytes that are not (only) text.
//!
//! A wire trace is only convincing when it shows the bytes themselves, not a decoded summary: the
//! `81 3e` in front of a WebSocket text frame, the `4e\r\n` in front of an SSE chunk. This module
//! prints them the way `xxd`/`hexdump -C` do: an offset, sixteen bytes in hex, and the same bytes
//! as ASCII with anything unprintable shown as `.`.

/// Bytes per hex-dump row.
pub const ROW: usize = 16;

/// The bytes as space-separated lowercase hex pairs: `[0x81, 0x05]` → `"81 05"`.
pub fn hex_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// One byte as it would appear in the ASCII column: printable ASCII as itself, anything else `.`.
pub fn printable(b: u8) -> char {
    if b.is_ascii_graphic() || b == b' ' {
        char::from(b)
    } else {
        '.'
    }
}

/// The bytes as text with control characters made visible (`\r`, `\n`, `\t`, `\xNN`), for showing
/// HTTP lines and SSE fields exactly as they were sent.
pub fn escaped(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// A classic hex dump, one line per 16 bytes, each line prefixed by `indent`:
///
/// ```text
/// 0000  81 05 48 65 6c 6c 6f                              |..Hello|
/// ```
pub fn hexdump(bytes: &[u8], indent: &str) -> Vec<String> {
    bytes
        .chunks(ROW)
        .enumerate()
        .map(|(row, chunk)| {
            let hex = hex_bytes(chunk);
            let ascii: String = chunk.iter().map(|&b| printable(b)).collect();
            format!(
                "{indent}{:04x}  {hex:<width$}  |{ascii}|",
                row * ROW,
                width = ROW * 3 - 1
            )
        })
        .collect()
}

/// Like [`hexdump`], but at most `max_rows` rows, then one line saying how many bytes were left
/// out: a 64 KiB frame should not print four thousand lines.
pub fn hexdump_head(bytes: &[u8], indent: &str, max_rows: usize) -> Vec<String> {
    let shown = bytes.len().min(max_rows * ROW);
    let mut rows = hexdump(&bytes[..shown], indent);
    if shown < bytes.len() {
        rows.push(format!(
            "{indent}…     ({} more bytes not shown)",
            bytes.len() - shown
        ));
    }
    rows
}

/// `text` cut to at most `max` characters, with `…` when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_pairs() {
        assert_eq!(hex_bytes(&[0x81, 0x05, 0x48]), "81 05 48");
        assert_eq!(hex_bytes(&[]), "");
    }

    #[test]
    fn dump_rows_have_offset_hex_and_ascii() {
        let rows = hexdump(b"\x81\x05Hello", "  ");
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0],
            "  0000  81 05 48 65 6c 6c 6f                             |..Hello|"
        );
        let rows = hexdump(&[0u8; 17], "");
        assert_eq!(rows.len(), 2);
        assert!(rows[1].starts_with("0010  00 "));
    }

    #[test]
    fn long_dumps_are_cut() {
        let rows = hexdump_head(&[0u8; 100], "", 2);
        assert_eq!(rows.len(), 3);
        assert!(rows[2].contains("68 more bytes not shown"), "{}", rows[2]);
        assert_eq!(hexdump_head(&[0u8; 20], "", 2).len(), 2);
    }

    #[test]
    fn escaping_shows_line_ends() {
        assert_eq!(escaped(b"4e\r\n"), "4e\\r\\n");
        assert_eq!(escaped(b"id: 7\n\x01"), "id: 7\\n\\x01");
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello world", 6), "hello…");
    }
}
