//! The door the fuzz targets (`fuzz/`, a cargo-fuzz project with a workspace of its own) come
//! in by: each parser of outside input that is private to its module is reached through one
//! function here, so the targets run the code the node runs. Not an API: nothing else calls
//! these, and they may change with the parsers.

use std::time::Duration;

use chrono_tz::Tz;

use crate::channels::http_sms::HttpSmsConfig;
use crate::channels::{Accepted, Inbound, SendError};
use crate::contacts::import::{ImportError, ImportKind, ImportReport};
use crate::dialer::hopper::NewContact;
use crate::dialer::lists::ListError;

/// A rejected JSON body: the HTTP status and the message the client would get.
pub type Rejection = (u16, String);

/// The HTTP SMS gateway's verdict on a provider's answer (`status`, `body`), with the success
/// rule `/code` = `0` and the message id at `/msgid` (as `[sms.http]` is usually set up).
pub fn sms_gateway_answer(status: u16, body: &str) -> Result<Accepted, SendError> {
    let config = HttpSmsConfig {
        url: "http://127.0.0.1:9/sms".into(),
        method: "POST".into(),
        headers: Default::default(),
        body: String::new(),
        content_type: "application/json".into(),
        sender: String::new(),
        success_field: Some("/code".into()),
        success_value: Some("0".into()),
        id_field: Some("/msgid".into()),
        timeout_secs: 10,
    };
    crate::channels::http_sms::judge(&config, status, Some(Duration::from_secs(1)), body)
}

/// The body of the HTTP gateway's reply webhook (`POST /api/sms/inbound`) as its handler
/// decodes it: `(from, to, text)`.
pub fn sms_webhook(body: &[u8]) -> Result<(String, String, String), Rejection> {
    crate::web::decode_sms_reply(body).map_err(|(status, text)| (status.as_u16(), text))
}

/// What an SMSC's `deliver_sm` is to us: a receipt, an owner's reply, or nothing.
pub fn smpp_deliver_sm(sm: &rusmpp::pdus::DeliverSm) -> Option<Inbound> {
    crate::channels::smpp::read_deliver_sm(sm)
}

/// `bytes` decoded as every JSON body the API's handlers take: each body type's name and
/// `Ok` or its rejection.
pub fn api_bodies(bytes: &[u8]) -> Vec<(&'static str, Result<(), Rejection>)> {
    crate::web::decode_api_bodies(bytes)
        .into_iter()
        .map(|(name, r)| (name, r.map_err(|(status, text)| (status.as_u16(), text))))
        .collect()
}

/// A campaign's CSV list (`[[lists]] csv = ...`): the contacts read and the rows refused.
pub fn dialer_list_csv(bytes: &[u8]) -> Result<(Vec<NewContact>, Vec<String>), ListError> {
    let mut refused = Vec::new();
    let contacts =
        crate::dialer::lists::read_csv_from(bytes, "list.csv", Tz::Asia__Shanghai, &mut refused)?;
    Ok((contacts, refused))
}

/// The rows of an import file of `kind`, read and checked without a store.
pub fn import_rows(kind: ImportKind, bytes: &[u8]) -> Result<ImportReport, ImportError> {
    crate::contacts::import::check_rows(kind, kind.file_name(), bytes)
}

/// A spreadsheet's first sheet as the CSV text the import reads.
pub fn spreadsheet_as_csv(bytes: &[u8]) -> Result<Vec<u8>, ImportError> {
    crate::contacts::import::spreadsheet_bytes_as_csv(bytes, "import.xlsx")
}
