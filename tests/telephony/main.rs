//! Telephony against real peers on loopback: the `huifang call` binary talking to sipp
//! (our scenarios in `tests/sipp/`), to baresip, and through kamailio (an authenticating proxy
//! and registrar, `tests/kamailio/`). Needs sipp, baresip and kamailio installed
//! (`tests/run.sh` installs them); `HUIFANG_SKIP_PEERS=1` skips instead of failing.
//! One test binary for the area keeps link time down.

mod attack;
mod baresip;
mod bridge;
mod hotline;
mod hotline_live;
mod kamailio;
mod kamailio_peer;
mod peers;
mod sipp;
