//! A flood of garbage at a running dialer node (`huifang campaign run`, no campaigns): the node
//! keeps answering, and its log gets a few lines a second of it, the last saying how many it
//! left out — not a line a datagram.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use testkit::binary::{self, Proc};

/// Malformed datagrams in the flood.
const FLOOD: usize = 20_000;
/// The transport's log budget (`crates/telephony/src/transport/log_budget.rs`): at most this
/// many lines a window, then one line saying how many were left out.
const LINES_PER_WINDOW: usize = 5;
const WINDOW: Duration = Duration::from_secs(1);

/// A node on `port` with no campaigns and no trunks, SQLite in `dir`.
fn node(dir: &Path, port: u16) -> Proc {
    let config = dir.join("huifang.toml");
    std::fs::write(
        &config,
        format!(
            "[dialer]\nsip_listen = \"127.0.0.1:{port}\"\nprompts_dir = \"{}\"\n",
            dir.join("prompts").display()
        ),
    )
    .unwrap();
    let url = format!("sqlite://{}", dir.join("huifang.db").display());
    let config = config.to_string_lossy().into_owned();
    let args = [
        "--config",
        &config,
        "--database",
        &url,
        "campaign",
        "run",
        "--node",
        "flood",
    ];
    binary::spawn(dir, "node", &args)
}

/// Sends a valid OPTIONS from `sock` until the node answers it (within `within`); the answer's
/// first line. The node reads its socket in order, so an answer means every datagram sent
/// before the OPTIONS has been handled.
fn probe(sock: &UdpSocket, to: SocketAddr, n: u32, within: Duration) -> Option<String> {
    let me = sock.local_addr().unwrap();
    let call_id = format!("flood-probe-{n}");
    let options = format!(
        "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKprobe{n}\r\n\
         Max-Forwards: 70\r\nTo: <sip:{to}>\r\nFrom: <sip:probe@{me}>;tag=p{n}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        sock.send_to(options.as_bytes(), to).unwrap();
        let resend = Instant::now() + Duration::from_millis(500);
        while Instant::now() < resend {
            let Ok((len, _)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let answer = String::from_utf8_lossy(&buf[..len]);
            if answer.starts_with("SIP/2.0 ") && answer.contains(&call_id) {
                return answer.lines().next().map(str::to_owned);
            }
        }
    }
    None
}

/// The kernel's drop counter of the UDP socket bound to `port` (`/proc/net/udp`): datagrams
/// the node never read, because its buffer was full.
fn udp_drops(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/udp").expect("/proc/net/udp (Linux)");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = u16::from_str_radix(fields.get(1)?.rsplit(':').next()?, 16).ok()?;
            (local == port).then(|| fields.last()?.parse::<u64>().ok())?
        })
        .sum()
}

/// The log without its colours (the subscriber writes ANSI escapes to a file too).
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `suppressed=N` of a log line.
fn suppressed(line: &str) -> u64 {
    let at = line.find("suppressed=").expect("a suppressed count") + "suppressed=".len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn a_flood_of_malformed_datagrams_writes_a_few_log_lines_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = testkit::dialer::free_port();
    let to: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut node = node(d, port);
    let prober = UdpSocket::bind("127.0.0.1:0").unwrap();
    let log = || plain(&binary::log(d, "node"));
    let up = probe(&prober, to, 0, Duration::from_secs(60));
    assert!(
        up.is_some(),
        "the node never answered an OPTIONS: {}",
        log()
    );

    // 20,000 malformed datagrams from four source ports, 100 every 10 ms (about 2 s).
    let senders: Vec<UdpSocket> = (0..4)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let drops_before = udp_drops(port);
    let started = Instant::now();
    for i in 0..FLOOD {
        let junk = match i % 4 {
            0 => format!("NOT SIP {i}\r\n\r\n").into_bytes(),
            1 => format!("\x00\x01\x02\u{ff} junk {i}\r\n\r\n").into_bytes(),
            2 => format!("INVITE sip:{i}@h SIP/2.0\r\n\r\n").into_bytes(),
            _ => format!("SIP/2.0 99999 Huge {i}\r\n\r\n").into_bytes(),
        };
        senders[i % senders.len()].send_to(&junk, to).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let answer = probe(&prober, to, 1, Duration::from_secs(60));
    // Every datagram of the flood was handled by now: the node's log windows all began within
    // this span.
    let span = started.elapsed();
    assert!(
        answer.is_some(),
        "the node stopped answering after the flood: {}",
        log()
    );
    assert_eq!(node.0.try_wait().unwrap(), None, "the node died: {}", log());

    // One more, after a quiet window: its line reports what the flood's last window left out.
    std::thread::sleep(WINDOW + Duration::from_millis(100));
    senders[0].send_to(b"NOT SIP, late\r\n\r\n", to).unwrap();
    assert!(
        probe(&prober, to, 2, Duration::from_secs(60)).is_some(),
        "no answer after the late datagram: {}",
        log()
    );
    let received = (FLOOD as u64 + 1) - (udp_drops(port) - drops_before);

    let text = log();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("dropped a malformed SIP message"))
        .collect();
    // The windows the flood's datagrams fell in, each of 5 lines at most, and the late line.
    let windows = span.as_secs_f64() / WINDOW.as_secs_f64();
    let bound = LINES_PER_WINDOW * (windows.ceil() as usize + 1) + 1;
    assert!(
        lines.len() <= bound,
        "{} lines about malformed messages over {span:?} (at most {bound}): {}",
        lines.len(),
        lines[..lines.len().min(20)].join("\n")
    );
    // Nothing else logs a line a datagram either (at the default level, or HUIFANG_TEST_LOG's
    // debug lines aside).
    let all = text
        .lines()
        .filter(|l| {
            ![" DEBUG ", " TRACE ", " INFO "]
                .iter()
                .any(|v| l.contains(v))
        })
        .count();
    assert!(all <= bound + 10, "{all} log lines: {text:.4000}");
    // What was left out is reported: the late line carries the last window's count, and the
    // lines plus their counts are every datagram the node read.
    let late = lines.last().expect("no line about malformed messages");
    assert!(
        suppressed(late) > 0,
        "the late line reports nothing left out: {late}"
    );
    let reported: u64 = lines.iter().map(|l| suppressed(l)).sum::<u64>() + lines.len() as u64;
    assert_eq!(
        reported,
        received,
        "logged and left-out counts do not add up to the {received} datagrams read \
         ({} lines)",
        lines.len()
    );
}
