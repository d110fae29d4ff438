//! Any datagram: the RTP and telephone-event parsers return errors, never panic, and what
//! parses re-builds to the same header and payload.
#![no_main]

use huifang::telephony::rtp::dtmf::{TelephoneEvent, TelephoneEventReceiver};
use huifang::telephony::rtp::packet::RtpPacket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = TelephoneEvent::parse(data);
    let Ok(packet) = RtpPacket::parse(data) else { return };
    let _ = packet.csrcs().count();
    if let Ok(event) = TelephoneEvent::parse(packet.payload) {
        assert_eq!(TelephoneEvent::parse(&event.to_bytes()), Ok(event));
    }
    let mut receiver = TelephoneEventReceiver::new(Some(101));
    let _ = receiver.on_packet(&packet.header, packet.payload);
    let rebuilt = packet.header.to_bytes(packet.payload);
    let again = RtpPacket::parse(&rebuilt).expect("a built packet parses");
    assert_eq!((again.header, again.payload), (packet.header, packet.payload));
});
