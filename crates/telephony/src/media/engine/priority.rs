//! Scheduling for the RTP sender thread.
//!
//! The sender's deadlines are what the owner hears: a frame sent late is a gap or a click. On a
//! busy machine (2 cores shared with the dialer's SIP task, the database and the SIP peers of a
//! test) an ordinary thread woken at its slot may wait its turn behind them for milliseconds.
//! Media servers run their RTP threads at real-time priority for this reason (FreeSWITCH's
//! `-rp`, Asterisk's `-p`); so does this one, where the system allows it. The thread sleeps
//! through most of every slot, and the kernel's real-time throttling (by default 5 % of each
//! second kept for other threads) bounds what a fault could take.

use std::fmt;

/// The scheduling the sender thread got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// `SCHED_RR` at this real-time priority.
    RoundRobin(i32),
    /// Real-time scheduling was refused (no `CAP_SYS_NICE`, a container's limits); the thread
    /// runs with this (lower, so stronger) nice value instead.
    Nice(i32),
    /// Ordinary scheduling: not asked for (`MediaConfig::realtime` off), not permitted, or not
    /// a Linux system.
    Normal,
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Priority::RoundRobin(p) => write!(f, "SCHED_RR {p}"),
            Priority::Nice(n) => write!(f, "nice {n}"),
            Priority::Normal => f.write_str("normal"),
        }
    }
}

/// A low real-time priority: above every ordinary thread, below the kernel's own real-time
/// threads and audio servers that ask for more.
#[cfg(target_os = "linux")]
const RT_PRIORITY: i32 = 10;
#[cfg(target_os = "linux")]
const NICE: i32 = -10;

/// Raises the calling thread's scheduling as far as permitted; never fails.
#[cfg(target_os = "linux")]
pub fn raise() -> Priority {
    // SAFETY: plain system calls on the calling thread (pid 0 / tid 0 name it); the parameter
    // struct lives on the stack for the duration of the call.
    unsafe {
        // Timer slack: how late the kernel may fire our sleeps to batch wake-ups (50 µs by
        // default; a tenth of a slot). Real-time threads have none; set it for the fallbacks.
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong, 0, 0, 0);
        let param = libc::sched_param {
            sched_priority: RT_PRIORITY,
        };
        if libc::sched_setscheduler(0, libc::SCHED_RR, &param) == 0 {
            return Priority::RoundRobin(RT_PRIORITY);
        }
        let tid = libc::gettid() as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, NICE) == 0 {
            return Priority::Nice(NICE);
        }
    }
    tracing::debug!("the RTP sender thread runs at normal priority (no CAP_SYS_NICE)");
    Priority::Normal
}

/// Raises the calling thread's scheduling as far as permitted; never fails.
#[cfg(not(target_os = "linux"))]
pub fn raise() -> Priority {
    Priority::Normal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_never_fails_and_says_what_it_got() {
        // On a thread of its own, so the test runner's threads keep their scheduling.
        let (got, policy) = std::thread::spawn(|| {
            let got = raise();
            #[cfg(target_os = "linux")]
            // SAFETY: reads the calling thread's scheduling policy.
            let policy = unsafe { libc::sched_getscheduler(0) };
            #[cfg(not(target_os = "linux"))]
            let policy = 0;
            (got, policy)
        })
        .join()
        .expect("raise does not panic");
        #[cfg(target_os = "linux")]
        match got {
            Priority::RoundRobin(p) => assert_eq!((p, policy), (RT_PRIORITY, libc::SCHED_RR)),
            Priority::Nice(_) | Priority::Normal => assert_eq!(policy, libc::SCHED_OTHER),
        }
        #[cfg(not(target_os = "linux"))]
        assert_eq!((got, policy), (Priority::Normal, 0));
    }
}
