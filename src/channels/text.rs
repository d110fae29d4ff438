//! Decoding the text of a received SMS: its data coding, an optional user data header, and
//! the keywords an owner may reply with. Pure functions over bytes, tested with literal PDUs.

/// The text of a short message: UCS-2 (data coding 8) as UTF-16 big-endian, Latin-1 (3) as
/// Latin-1, anything else as ASCII/GSM default read byte by byte (the printable ASCII subset is
/// the same in both). `udhi`: the message starts with a user data header, which is skipped.
pub fn decode(data_coding: u8, udhi: bool, bytes: &[u8]) -> String {
    let body = if udhi { skip_udh(bytes) } else { bytes };
    match data_coding {
        8 => {
            let units: Vec<u16> = body
                .chunks(2)
                .map(|pair| u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => body.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The bytes after a user data header (its first byte is its length).
fn skip_udh(bytes: &[u8]) -> &[u8] {
    match bytes.first() {
        Some(&len) => bytes.get(1 + usize::from(len)..).unwrap_or(&[]),
        None => bytes,
    }
}

/// What an owner's reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyIntent {
    /// Stop messages on the channel the reply came by (退订, TD, STOP, UNSUBSCRIBE).
    OptOut,
    /// Stop every channel: calls, SMS and email (退订全部, STOP ALL, TD ALL).
    OptOutAll,
    /// A survey answer: one key, 0–9 (full-width digits too).
    Digit(u8),
    /// Anything else: kept, not acted upon.
    Other,
}

/// Reads an owner's SMS reply. Case, surrounding space and punctuation do not matter; the
/// keywords are the ones Chinese carriers require senders to honour (退订/TD) and the usual
/// English ones.
pub fn intent(text: &str) -> ReplyIntent {
    let cleaned: String = text
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || "。，！？".contains(c))
        .chars()
        .map(full_width_to_ascii)
        .collect::<String>()
        .to_uppercase();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let joined = words.join(" ");
    let first = words.first().copied().unwrap_or("");
    let all = joined.contains("全部") || words.get(1) == Some(&"ALL") || first == "STOPALL";
    // 退订 anywhere (请退订, 退订谢谢); the Latin keywords as the first word (TD, STOP please).
    let opt_out = joined.contains("退订")
        || joined.contains("取消订阅")
        || matches!(first, "TD" | "T" | "STOP" | "STOPALL" | "UNSUBSCRIBE");
    match joined.as_str() {
        _ if opt_out && all => ReplyIntent::OptOutAll,
        _ if opt_out => ReplyIntent::OptOut,
        d if d.len() == 1 && d.as_bytes()[0].is_ascii_digit() => {
            ReplyIntent::Digit(d.as_bytes()[0] - b'0')
        }
        _ => ReplyIntent::Other,
    }
}

/// Full-width ASCII forms (what a Chinese keyboard types: `１`, `Ｔ`) to plain ASCII.
fn full_width_to_ascii(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ucs2_chinese_is_decoded() {
        // "退订" in UTF-16BE.
        assert_eq!(decode(8, false, &[0x90, 0x00, 0x8B, 0xA2]), "退订");
    }

    #[test]
    fn a_user_data_header_is_skipped() {
        // UDH: length 5, IE 0x00 (concatenation, 8-bit ref), len 3, ref 7, total 2, seq 1.
        let bytes = [0x05, 0x00, 0x03, 0x07, 0x02, 0x01, b'H', b'i'];
        assert_eq!(decode(0, true, &bytes), "Hi");
        assert_eq!(
            decode(0, true, &[0x09]),
            "",
            "a header longer than the message"
        );
    }

    #[test]
    fn an_odd_ucs2_length_does_not_panic() {
        assert_eq!(decode(8, false, &[0x00, 0x41, 0x00]), "A\u{0}");
    }

    #[test]
    fn replies_are_read_whatever_their_case_width_or_punctuation() {
        assert_eq!(intent("退订"), ReplyIntent::OptOut);
        assert_eq!(intent(" td "), ReplyIntent::OptOut);
        assert_eq!(intent("Stop."), ReplyIntent::OptOut);
        assert_eq!(intent("ＴＤ"), ReplyIntent::OptOut);
        assert_eq!(intent("退订全部"), ReplyIntent::OptOutAll);
        assert_eq!(intent("stop  all"), ReplyIntent::OptOutAll);
        assert_eq!(intent("5"), ReplyIntent::Digit(5));
        assert_eq!(intent("５。"), ReplyIntent::Digit(5));
        assert_eq!(intent("55"), ReplyIntent::Other);
        assert_eq!(intent("请退订，谢谢"), ReplyIntent::OptOut);
        assert_eq!(intent("我要退订全部短信"), ReplyIntent::OptOutAll);
        assert_eq!(intent("stop please"), ReplyIntent::OptOut);
        assert_eq!(intent("TDX"), ReplyIntent::Other);
        assert_eq!(intent("stopover"), ReplyIntent::Other);
        assert_eq!(intent("谢谢"), ReplyIntent::Other);
        assert_eq!(intent(""), ReplyIntent::Other);
    }
}
