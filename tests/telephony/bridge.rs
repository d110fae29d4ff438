//! The call API used as the dialer uses it: an agent's nailed-up leg and an owner's call
//! bridged, with sipp as the owner pressing a key (RFC 2833 from its pcap) and our own stack
//! as the agent's phone. The key must cross the bridge: reported on the owner's leg and
//! regenerated toward the agent.

use std::net::SocketAddr;
use std::time::Duration;

use huifang::telephony::transport::{Collect, CollectEnd, DialRequest, UserAgent, UserAgentConfig};

use crate::peers::{SippUas, can_send_raw_packets};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_bridged_to_an_agent_leg_is_heard_by_the_agent() {
    let Some(uas) = SippUas::start("uas_dtmf.xml", &[]) else {
        return;
    };
    assert!(can_send_raw_packets(), "sipp's play_pcap_audio needs root");
    let dialer = UserAgent::start(UserAgentConfig::new(loopback()))
        .await
        .unwrap();
    let agent_phone = UserAgent::start(UserAgentConfig::new(loopback()))
        .await
        .unwrap();

    // The agent's nailed-up leg: dialled once, answered by the agent's phone.
    let agent_uri = format!("sip:agent@{}", agent_phone.local_addr());
    let (agent_leg, agent_side) = tokio::join!(dialer.dial(DialRequest::new(agent_uri)), async {
        let incoming = agent_phone.accept().await.expect("the agent's phone rings");
        incoming.answer().await.expect("the agent answers")
    });
    let mut agent_leg = agent_leg.unwrap();
    let mut agent_side = agent_side;
    assert!(agent_leg.wait_answer().await);

    // The owner's call; bridged the moment it is answered (sipp presses 4 half a second later).
    let mut owner = dialer.dial(DialRequest::new(uas.uri())).await.unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(10), owner.wait_answer()).await;
    assert_eq!(answered, Ok(true), "sipp answers");
    owner.bridge(&agent_leg);

    let heard = tokio::time::timeout(
        Duration::from_secs(10),
        agent_side.collect(Collect::digits(1)),
    )
    .await
    .expect("collect ends by itself");
    assert_eq!(heard.end, CollectEnd::MaxDigits, "{heard:?}");
    assert_eq!(heard.digits, "4", "the agent hears the owner's key");
    // The owner's own leg reported it too, once (a second key would show here).
    let once = Collect {
        max_digits: 2,
        terminator: None,
        first_timeout: Duration::from_secs(1),
        inter_timeout: Duration::from_secs(1),
    };
    let owner_digits = owner.collect(once).await;
    assert_eq!(owner_digits.digits, "4", "{owner_digits:?}");

    owner.hangup().await;
    agent_leg.hangup().await;
    let sipp = uas.wait(Duration::from_secs(20));
    assert!(sipp.success(), "{}", sipp.report());
}
