//! SMPP delivery receipts (SMPP 3.4 appendix B): `id:IIII sub:001 dlvrd:001 submit date:...
//! done date:... stat:DELIVRD err:000 text:...`, and the `receipted_message_id` and
//! `message_state` TLVs that carry the same facts in a machine form. The TLVs win when present.

/// One segment's fate as the SMSC reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The id the SMSC gave the segment in its `submit_sm_resp`.
    pub provider_id: String,
    /// Reached the handset.
    pub delivered: bool,
    /// The SMSC's state word (`DELIVRD`, `UNDELIV`, `EXPIRED`, `REJECTD`, ...).
    pub status: String,
    /// The SMSC's error code, when it is not zero.
    pub error: Option<String>,
}

/// Message states of the `message_state` TLV (SMPP 3.4 §5.2.28).
fn state_word(state: u8) -> &'static str {
    match state {
        1 => "ENROUTE",
        2 => "DELIVRD",
        3 => "EXPIRED",
        4 => "DELETED",
        5 => "UNDELIV",
        6 => "ACCEPTD",
        7 => "UNKNOWN",
        8 => "REJECTD",
        _ => "UNKNOWN",
    }
}

/// Reads a receipt from its text and optional TLVs; `None` when it names no message id or no
/// final state (an intermediate notification such as `ENROUTE`).
pub fn parse(text: &str, receipted_id: Option<&str>, message_state: Option<u8>) -> Option<Receipt> {
    let field = |name: &str| -> Option<&str> {
        let at = text.find(&format!("{name}:"))? + name.len() + 1;
        let rest = &text[at..];
        Some(rest.split(' ').next().unwrap_or(""))
    };
    let provider_id = receipted_id
        .filter(|id| !id.is_empty())
        .or_else(|| field("id"))
        .filter(|id| !id.is_empty())?
        .to_string();
    let status = match message_state {
        Some(state) => state_word(state).to_string(),
        None => field("stat")?.to_ascii_uppercase(),
    };
    if matches!(status.as_str(), "ENROUTE" | "ACCEPTD") {
        return None;
    }
    let error = field("err")
        .filter(|e| e.bytes().any(|b| b != b'0'))
        .map(str::to_string);
    Some(Receipt {
        delivered: status == "DELIVRD",
        provider_id,
        status,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELIVERED: &str = "id:1a2b sub:001 dlvrd:001 submit date:2612030930 done date:2612030931 stat:DELIVRD err:000 text:您好";

    #[test]
    fn the_text_form_is_read() {
        let r = parse(DELIVERED, None, None).unwrap();
        assert_eq!(r.provider_id, "1a2b");
        assert!(r.delivered);
        assert_eq!(r.status, "DELIVRD");
        assert_eq!(r.error, None);
    }

    #[test]
    fn tlvs_win_over_the_text() {
        let r = parse(DELIVERED, Some("ffee"), Some(5)).unwrap();
        assert_eq!(r.provider_id, "ffee");
        assert!(!r.delivered);
        assert_eq!(r.status, "UNDELIV");
    }

    #[test]
    fn failures_keep_their_error_code() {
        let r = parse("id:9 stat:UNDELIV err:001 text:x", None, None).unwrap();
        assert!(!r.delivered);
        assert_eq!(r.error.as_deref(), Some("001"));
    }

    #[test]
    fn no_id_or_no_final_state_is_no_receipt() {
        assert_eq!(parse("stat:DELIVRD", None, None), None);
        assert_eq!(parse("id:7 stat:ENROUTE", None, None), None);
        assert_eq!(parse("garbage", None, Some(2)), None);
        assert_eq!(parse("id: stat:DELIVRD", None, None), None);
    }
}
