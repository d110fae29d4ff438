//! Telephony against real peers on loopback: the `huifang call` binary talking to sipp
//! (our scenarios in `tests/sipp/`) and to baresip. Needs sipp and baresip installed
//! (`tests/run.sh` installs them); `HUIFANG_SKIP_PEERS=1` skips instead of failing.
//! One test binary for the area keeps link time down.

mod baresip;
mod peers;
mod sipp;
