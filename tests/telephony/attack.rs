//! A call's rating cannot be forged, over real sockets (issue 30). Our user agent, started as
//! a dialer node starts it (it takes no calls, has no access list), dials a hand-written owner
//! phone on 127.0.0.1 and collects the rating digit as the survey does, while others who know
//! the Call-ID and both tags try to press 5, end the call or move its media:
//! - an attacker on 127.0.0.2 (a re-INVITE, an INFO, a BYE, RTP to our port): 403, no effect;
//! - a neighbour on 127.0.0.1 with a wrong From tag (BYE, INFO): 481, no effect;
//! - RFC 4733 events from the phone's IP but another port, from its port with another SSRC,
//!   and on a payload type that was not negotiated: dropped, no digit.
//!
//! Only the phone's own key, from its stream, is the rating; our BYE goes to the phone. The
//! sans-IO gate has unit tests (`sip/endpoint/tests_trust.rs`, `media/engine/tests.rs`);
//! these prove the sockets, the SIP task and the media engine keep to it.

mod phone;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use huifang::telephony::rtp::dedup::DigitSource;
use huifang::telephony::transport::{
    Call, CallUpdate, Collect, CollectEnd, Collected, DialRequest, UserAgent, UserAgentConfig,
};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};

use phone::{
    Dialog, EVENT_PT, PHONE_SSRC, PHONE_TAG, Phone, RtpStream, WAIT, header, pending, press, reply,
    send_request, socket,
};

/// How long the survey waits for the rating: longer than all the attacks together take.
const RATING_WINDOW: Duration = Duration::from_secs(10);

/// How long an attack is given to show an effect before the call is looked at.
const SETTLE: Duration = Duration::from_millis(300);

/// A survey call in its rating question: the phone has answered, its stream is latched, and
/// a task collects one digit as the survey does.
struct Survey {
    ua: UserAgent,
    phone: Phone,
    dialog: Dialog,
    /// Every update the call reported, in order.
    heard: Arc<Mutex<Vec<CallUpdate>>>,
    collecting: JoinHandle<(Call, Collected)>,
}

/// Our user agent as `dialer_agent` (src/cli/campaign.rs) starts it, on 127.0.0.1.
async fn dialer_agent() -> UserAgent {
    let mut config = UserAgentConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.takes_calls = false;
    config.tcp = false;
    UserAgent::start(config).await.unwrap()
}

impl Survey {
    /// Dials the phone, which answers; waits for its stream to be latched; starts collecting.
    async fn start(sip_info_dtmf: bool) -> Survey {
        let ua = dialer_agent().await;
        let mut phone = Phone::bind().await;
        let mut request = DialRequest::new(phone.uri());
        request.sip_info_dtmf = sip_info_dtmf;
        let mut call = ua.dial(request).await.unwrap();
        let dialog = phone.answer().await;
        let answered = timeout(WAIT, call.wait_answer()).await;
        assert_eq!(answered, Ok(true), "the call is answered");
        phone.start_audio(dialog.ua_rtp);
        // The leg latches on to the first packet from the phone's address: the phone's, so
        // every forged stream below comes after it.
        let latched = timeout(WAIT, async {
            while call.media_stats().is_none_or(|s| s.packets_received < 3) {
                sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(latched.is_ok(), "no RTP heard from the phone");
        let heard = Arc::new(Mutex::new(Vec::new()));
        let log = heard.clone();
        call.observe(move |update| log.lock().unwrap().push(update.clone()));
        let rating = Collect {
            max_digits: 1,
            terminator: None,
            first_timeout: RATING_WINDOW,
            inter_timeout: RATING_WINDOW,
        };
        let collecting = tokio::spawn(async move {
            let collected = call.collect(rating).await;
            (call, collected)
        });
        Survey {
            ua,
            phone,
            dialog,
            heard,
            collecting,
        }
    }

    /// After `attack`, nothing happened: no digit, the call is up, the survey still waits.
    async fn unmoved(&self, attack: &str) {
        sleep(SETTLE).await;
        let heard = self.heard.lock().unwrap().clone();
        assert!(
            !heard
                .iter()
                .any(|u| matches!(u, CallUpdate::Digit { .. } | CallUpdate::Ended { .. })),
            "{attack} changed the call: {heard:?}"
        );
        assert!(
            !self.collecting.is_finished(),
            "{attack} ended the rating question"
        );
    }

    /// The rating the survey collected, and the call back.
    async fn rating(&mut self) -> (Call, Collected) {
        timeout(WAIT, &mut self.collecting)
            .await
            .expect("the survey took no rating")
            .expect("the collecting task")
    }

    /// The digits the call reported, with how each came.
    fn digits(&self) -> Vec<(char, DigitSource)> {
        self.heard
            .lock()
            .unwrap()
            .iter()
            .filter_map(|u| match u {
                CallUpdate::Digit { digit, source } => Some((digit.as_char(), *source)),
                _ => None,
            })
            .collect()
    }

    /// Hangs up from our side; the phone must get the BYE (and answers it).
    async fn hang_up(&self, call: &mut Call) {
        let phone = async {
            let (bye, from) = self.phone.receive_request("BYE").await;
            reply(&self.phone.sip, from, &bye, 200).await;
            bye
        };
        let (ended, bye) = tokio::join!(timeout(WAIT, call.hangup()), phone);
        assert_eq!(header(&bye, "Call-ID"), Some(self.dialog.call_id.as_str()));
        let target = bye.split(' ').nth(1).unwrap_or_default();
        assert_eq!(
            target,
            self.phone.uri(),
            "the BYE goes to the phone's Contact"
        );
        assert!(
            matches!(ended, Ok(Some(CallUpdate::Ended { .. }))),
            "{ended:?}"
        );
    }
}

/// The rating is the phone's own key: a re-INVITE, an INFO and a BYE from 127.0.0.2 get 403,
/// a BYE and an INFO with a forged From tag get 481, and RFC 4733 events for 5 from another
/// port, another SSRC and payload type 96 are dropped; the phone's 2 is the rating, and our
/// BYE goes to the phone, not to the attacker's Contact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rating_cannot_be_forged_over_real_sockets() {
    let mut survey = Survey::start(false).await;
    let dialog = &survey.dialog;
    let attacker = socket([127, 0, 0, 2]).await;
    let attacker_rtp = socket([127, 0, 0, 2]).await;
    let evil = attacker.local_addr().unwrap();

    // From another address, with the right Call-ID, both tags and a higher CSeq.
    let reinvite = dialog.reinvite(evil, PHONE_TAG, attacker_rtp.local_addr().unwrap());
    let status = send_request(&attacker, dialog, &reinvite, WAIT).await;
    assert_eq!(status, Some(403), "a re-INVITE from 127.0.0.2");
    survey.unmoved("the attacker's re-INVITE").await;
    assert!(
        pending(&attacker_rtp).is_empty(),
        "the re-INVITE moved our media to the attacker's SDP"
    );
    let mut stream = RtpStream::new(PHONE_SSRC);
    press(&attacker_rtp, dialog.ua_rtp, &mut stream, EVENT_PT, 5).await;
    survey.unmoved("RFC 4733 from the attacker's address").await;
    let info = dialog.info(evil, PHONE_TAG, '5');
    let status = send_request(&attacker, dialog, &info, WAIT).await;
    assert_eq!(status, Some(403), "an INFO from 127.0.0.2");
    survey.unmoved("the attacker's INFO").await;
    let bye = dialog.request("BYE", evil, PHONE_TAG, "", "");
    let status = send_request(&attacker, dialog, &bye, WAIT).await;
    assert_eq!(status, Some(403), "a BYE from 127.0.0.2");
    survey.unmoved("the attacker's BYE").await;
    assert_eq!(survey.ua.refused_sip(), 3, "the gate counted the three");

    // From the phone's own address, but with a From tag that is not the phone's.
    let neighbour = socket([127, 0, 0, 1]).await;
    let near = neighbour.local_addr().unwrap();
    let bye = dialog.request("BYE", near, "forged", "", "");
    let status = send_request(&neighbour, dialog, &bye, WAIT).await;
    assert_eq!(status, Some(481), "a BYE with a wrong From tag");
    survey.unmoved("a BYE with a wrong From tag").await;
    let info = dialog.info(near, "forged", '5');
    let status = send_request(&neighbour, dialog, &info, WAIT).await;
    assert_eq!(status, Some(481), "an INFO with a wrong From tag");
    survey.unmoved("an INFO with a wrong From tag").await;

    // RFC 4733 for 5 from the phone's address but another port (the phone's SSRC)...
    let mut stream = RtpStream::new(PHONE_SSRC);
    press(&neighbour, dialog.ua_rtp, &mut stream, EVENT_PT, 5).await;
    survey.unmoved("RFC 4733 from another port").await;
    // ... from the phone's port with another SSRC ...
    let mut stream = RtpStream::new(0x0bad_5eed);
    press(&survey.phone.rtp, dialog.ua_rtp, &mut stream, EVENT_PT, 5).await;
    survey.unmoved("RFC 4733 in another SSRC").await;
    // ... and in the phone's own stream, on a payload type that was not negotiated.
    survey.phone.press(dialog.ua_rtp, 96, 5).await;
    survey.unmoved("RFC 4733 on payload type 96").await;

    // The phone's own key.
    survey.phone.press(dialog.ua_rtp, EVENT_PT, 2).await;
    let (mut call, rating) = survey.rating().await;
    assert_eq!(rating.digits, "2", "{rating:?}");
    assert_eq!(rating.end, CollectEnd::MaxDigits);
    assert_eq!(survey.digits(), vec![('2', DigitSource::Rfc4733)]);
    let stats = call.media_stats().expect("the leg is open");
    assert_eq!(stats.foreign, 6, "the attacker's six packets: {stats:?}");
    assert_eq!(
        stats.unlatched, 12,
        "six from another port, six in another SSRC"
    );
    assert_eq!(stats.ignored, 6, "six on payload type 96: {stats:?}");
    assert_eq!(stats.digits, 1, "{stats:?}");

    // Our BYE goes to the phone; the attacker hears nothing more, and got none of our media.
    survey.hang_up(&mut call).await;
    sleep(SETTLE).await;
    assert_eq!(
        pending(&attacker),
        Vec::<String>::new(),
        "nothing for the attacker"
    );
    assert!(
        pending(&attacker_rtp).is_empty(),
        "our RTP went to the attacker's SDP"
    );
}

/// With `sip_info_dtmf` an INFO is a digit, so forged INFOs have teeth: from 127.0.0.2 it gets
/// 403 and with a wrong From tag 481, neither a digit; the phone's own INFO 7 is the rating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sip_info_dtmf_only_the_phones_info_is_a_rating() {
    let mut survey = Survey::start(true).await;
    let dialog = &survey.dialog;
    let attacker = socket([127, 0, 0, 2]).await;
    let evil = attacker.local_addr().unwrap();
    let info = dialog.info(evil, PHONE_TAG, '5');
    let status = send_request(&attacker, dialog, &info, WAIT).await;
    assert_eq!(status, Some(403), "an INFO from 127.0.0.2");
    survey.unmoved("the attacker's INFO").await;
    let neighbour = socket([127, 0, 0, 1]).await;
    let info = dialog.info(neighbour.local_addr().unwrap(), "forged", '5');
    let status = send_request(&neighbour, dialog, &info, WAIT).await;
    assert_eq!(status, Some(481), "an INFO with a wrong From tag");
    survey.unmoved("an INFO with a wrong From tag").await;

    let phone = survey.phone.sip.local_addr().unwrap();
    let info = dialog.info(phone, PHONE_TAG, '7');
    let status = send_request(&survey.phone.sip, dialog, &info, WAIT).await;
    assert_eq!(status, Some(200), "the phone's INFO");
    let (mut call, rating) = survey.rating().await;
    assert_eq!(rating.digits, "7", "{rating:?}");
    assert_eq!(survey.digits(), vec![('7', DigitSource::SipInfo)]);
    survey.hang_up(&mut call).await;
}

/// Without `sip_info_dtmf` (the default) an INFO is no digit even from the phone itself: it
/// gets its 200, the survey still waits, and the phone's RFC 4733 key is the rating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sip_info_dtmf_not_even_the_phones_info_is_a_rating() {
    let mut survey = Survey::start(false).await;
    let dialog = &survey.dialog;
    let phone = survey.phone.sip.local_addr().unwrap();
    let info = dialog.info(phone, PHONE_TAG, '5');
    let status = send_request(&survey.phone.sip, dialog, &info, WAIT).await;
    assert_eq!(status, Some(200), "the phone's INFO is answered");
    survey.unmoved("the phone's INFO").await;
    survey.phone.press(dialog.ua_rtp, EVENT_PT, 2).await;
    let (mut call, rating) = survey.rating().await;
    assert_eq!(rating.digits, "2", "{rating:?}");
    assert_eq!(survey.digits(), vec![('2', DigitSource::Rfc4733)]);
    survey.hang_up(&mut call).await;
}
