//! Digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760): answering a 401's
//! `WWW-Authenticate` with `Authorization` and a 407's `Proxy-Authenticate` with
//! `Proxy-Authorization`.
//!
//! Algorithms MD5, SHA-256 and SHA-512-256 (each also `-sess`); `qop=auth` with client nonce
//! and nonce count, or the legacy form without qop. `qop=auth-int` alone is refused (it would
//! hash the body, which no trunk we know asks for).
//!
//! Our own small challenge parser and hashing are used rather than rsip's typed headers and
//! `DigestGenerator`: rsip 0.4 rejects `algorithm=SHA-256` (it knows only `SHA256`), rejects a
//! `qop="auth,auth-int"` list, prints the nonce count in decimal where RFC 2617 wants hex and
//! holds it in a `u8`, and hashes `-sess` like the plain algorithm. The headers we return are
//! rsip's untyped ones, so the message builder needs nothing special.

use std::fmt::{self, Write as _};

use md5::Md5;
use rsip::headers::UntypedHeader;
use rsip::message::HasHeaders;
use sha2::digest::Digest;
use sha2::{Sha256, Sha512_256};

use super::message::Parsed;

/// A SIP account's user name and password. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication user name (often the account number, not the display name).
    pub username: String,
    /// The shared secret.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The header given is not `WWW-Authenticate` or `Proxy-Authenticate`.
    #[error("`{0}` is not a WWW-Authenticate or Proxy-Authenticate header")]
    NotAChallenge(String),
    /// A scheme other than Digest (Basic is forbidden in SIP).
    #[error("unsupported authentication scheme `{0}` (only Digest)")]
    Scheme(String),
    /// The parameters do not parse (unterminated quote, missing `=`, ...).
    #[error("malformed digest challenge at byte {at}: `{value}`")]
    Syntax {
        /// Byte offset in the header value where parsing stopped.
        at: usize,
        /// The header value.
        value: String,
    },
    /// A parameter every challenge must have (`realm`, `nonce`).
    #[error("digest challenge without `{0}`")]
    Missing(&'static str),
    /// An algorithm we do not implement.
    #[error("unsupported digest algorithm `{0}`")]
    Algorithm(String),
    /// A 401/407 without any `WWW-Authenticate`/`Proxy-Authenticate` header.
    #[error("the 401/407 response carries no digest challenge")]
    NoChallenge,
    /// A qop list without `auth`.
    #[error("unsupported qop `{0}` (only auth)")]
    Qop(String),
}

/// A digest hash algorithm (RFC 7616 §6.1, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// MD5, the default when the challenge names none.
    Md5,
    /// MD5-sess.
    Md5Sess,
    /// SHA-256.
    Sha256,
    /// SHA-256-sess.
    Sha256Sess,
    /// SHA-512-256.
    Sha512_256,
    /// SHA-512-256-sess.
    Sha512_256Sess,
}

impl Algorithm {
    /// Reads an `algorithm=` token, case-insensitively (`SHA256` accepted for old peers).
    pub fn parse(token: &str) -> Result<Algorithm, AuthError> {
        Ok(match token.to_ascii_uppercase().as_str() {
            "MD5" => Algorithm::Md5,
            "MD5-SESS" => Algorithm::Md5Sess,
            "SHA-256" | "SHA256" => Algorithm::Sha256,
            "SHA-256-SESS" | "SHA256-SESS" => Algorithm::Sha256Sess,
            "SHA-512-256" => Algorithm::Sha512_256,
            "SHA-512-256-SESS" => Algorithm::Sha512_256Sess,
            _ => return Err(AuthError::Algorithm(token.into())),
        })
    }

    /// The RFC name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Strength order for choosing among several challenges (higher is stronger).
    fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 0,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 1,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => 2,
        }
    }

    /// Lower-case hex of the hash of `data`.
    fn hex(self, data: &str) -> String {
        let bytes: Vec<u8> = match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Md5::digest(data).to_vec(),
            Algorithm::Sha256 | Algorithm::Sha256Sess => Sha256::digest(data).to_vec(),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => Sha512_256::digest(data).to_vec(),
        };
        bytes.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

/// A parsed digest challenge: what we need to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space; also names which password to use.
    pub realm: String,
    /// The server's nonce; the nonce count restarts at 1 for each new one.
    pub nonce: String,
    /// Echoed back unchanged.
    pub opaque: Option<String>,
    /// The hash algorithm.
    pub algorithm: Algorithm,
    /// Whether the challenge named its algorithm (if not, neither does our answer).
    pub algorithm_named: bool,
    /// Whether the server offered `qop=auth` (else the RFC 2069 legacy form is used).
    pub qop_auth: bool,
    /// `stale=true`: our previous answer was right but its nonce expired; retrying with the
    /// new nonce is not a failed password.
    pub stale: bool,
}

impl Challenge {
    /// Parses a `WWW-Authenticate`/`Proxy-Authenticate` value such as
    /// `Digest realm="a", nonce="b", qop="auth,auth-int", algorithm=SHA-256`.
    pub fn parse(value: &str) -> Result<Challenge, AuthError> {
        let trimmed = value.trim_start();
        let (scheme, rest) = trimmed
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((trimmed, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::Scheme(scheme.into()));
        }
        let params = parse_params(rest).map_err(|at| AuthError::Syntax {
            at: at + value.len() - rest.len(),
            value: value.into(),
        })?;
        let find = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let algorithm_token = find("algorithm");
        let qop_auth = match find("qop") {
            None => false,
            Some(list)
                if list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth")) =>
            {
                true
            }
            Some(list) => return Err(AuthError::Qop(list)),
        };
        Ok(Challenge {
            realm: find("realm").ok_or(AuthError::Missing("realm"))?,
            nonce: find("nonce").ok_or(AuthError::Missing("nonce"))?,
            opaque: find("opaque"),
            algorithm: algorithm_token
                .as_deref()
                .map_or(Ok(Algorithm::Md5), Algorithm::parse)?,
            algorithm_named: algorithm_token.is_some(),
            qop_auth,
            stale: find("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The `response=` hash for `method` on `uri` (the Request-URI exactly as sent).
    pub fn response(
        &self,
        method: &str,
        uri: &str,
        creds: &Credentials,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let alg = self.algorithm;
        let mut ha1 = alg.hex(&format!(
            "{}:{}:{}",
            creds.username, self.realm, creds.password
        ));
        if alg.is_sess() {
            ha1 = alg.hex(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = alg.hex(&format!("{method}:{uri}"));
        if self.qop_auth {
            alg.hex(&format!(
                "{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}",
                self.nonce
            ))
        } else {
            alg.hex(&format!("{ha1}:{}:{ha2}", self.nonce))
        }
    }

    /// The full `Authorization`/`Proxy-Authorization` value answering this challenge.
    /// `cnonce` should be fresh random text; `nc` counts the requests made with this nonce,
    /// from 1 (see [`NonceCount`]). Both are ignored by the legacy (no-qop) form unless the
    /// algorithm is a `-sess` one.
    pub fn authorization(
        &self,
        method: &str,
        uri: &str,
        creds: &Credentials,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let response = self.response(method, uri, creds, cnonce, nc);
        let mut v = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\"",
            quote(&creds.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
        );
        if self.algorithm_named || self.algorithm != Algorithm::Md5 {
            let _ = write!(v, ", algorithm={}", self.algorithm.name());
        }
        if self.qop_auth || self.algorithm.is_sess() {
            let _ = write!(v, ", cnonce={}", quote(cnonce));
        }
        if let Some(opaque) = &self.opaque {
            let _ = write!(v, ", opaque={}", quote(opaque));
        }
        if self.qop_auth {
            let _ = write!(v, ", qop=auth, nc={nc:08x}");
        }
        v
    }
}

/// Answers a 401's `WWW-Authenticate` with an `Authorization` header, or a 407's
/// `Proxy-Authenticate` with a `Proxy-Authorization` header, for a request `method` to `uri`
/// (its Request-URI exactly as sent).
pub fn authorize(
    challenge: &rsip::Header,
    method: rsip::Method,
    uri: &str,
    creds: &Credentials,
    cnonce: &str,
    nc: u32,
) -> Result<rsip::Header, AuthError> {
    let (value, proxy) = challenge_value(challenge)?;
    let answer =
        Challenge::parse(value)?.authorization(&method.to_string(), uri, creds, cnonce, nc);
    Ok(if proxy {
        rsip::Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::new(answer))
    } else {
        rsip::Header::Authorization(rsip::headers::Authorization::new(answer))
    })
}

/// Answers the strongest digest challenge of a 401/407 `response` (see [`strongest`]) for a
/// request `method` to `uri`: the header to add when the request is sent again.
pub fn answer_challenge(
    response: &Parsed,
    method: rsip::Method,
    uri: &str,
    creds: &Credentials,
    cnonce: &str,
    nc: u32,
) -> Result<rsip::Header, AuthError> {
    let headers = response.msg.headers();
    let challenge = strongest(headers.iter()).ok_or_else(|| {
        // Explain the first challenge we could not use, if there was one.
        headers
            .iter()
            .filter_map(|h| challenge_value(h).ok())
            .map(|(value, _)| Challenge::parse(value).err())
            .next()
            .flatten()
            .unwrap_or(AuthError::NoChallenge)
    })?;
    authorize(challenge, method, uri, creds, cnonce, nc)
}

/// Of a response's headers, the challenge to answer: the strongest algorithm we support
/// (RFC 8760 §2.4: a server may offer SHA-256 and MD5 side by side). `None` when the response
/// has no digest challenge we can answer.
pub fn strongest<'a>(
    headers: impl IntoIterator<Item = &'a rsip::Header>,
) -> Option<&'a rsip::Header> {
    headers
        .into_iter()
        .filter_map(|h| {
            let (value, _) = challenge_value(h).ok()?;
            Some((Challenge::parse(value).ok()?.algorithm.strength(), h))
        })
        .fold(
            None,
            |best: Option<(u8, &rsip::Header)>, (s, h)| match best {
                Some((b, _)) if b >= s => best,
                _ => Some((s, h)),
            },
        )
        .map(|(_, h)| h)
}

/// Nonce counts for one credential: 1 for each new nonce, then 2, 3, ... while the server
/// keeps it (RFC 7616 §3.4: the server uses it to detect replays).
#[derive(Debug, Clone, Default)]
pub struct NonceCount {
    nonce: String,
    count: u32,
}

impl NonceCount {
    /// The `nc` to send with the next request answering `nonce`.
    pub fn next(&mut self, nonce: &str) -> u32 {
        if self.nonce != nonce {
            self.nonce = nonce.into();
            self.count = 0;
        }
        self.count = self.count.wrapping_add(1).max(1);
        self.count
    }
}

/// The challenge text of a header and whether it came from a proxy.
fn challenge_value(header: &rsip::Header) -> Result<(&str, bool), AuthError> {
    match header {
        rsip::Header::WwwAuthenticate(h) => Ok((h.value(), false)),
        rsip::Header::ProxyAuthenticate(h) => Ok((h.value(), true)),
        rsip::Header::Other(name, value) if name.eq_ignore_ascii_case("WWW-Authenticate") => {
            Ok((value, false))
        }
        rsip::Header::Other(name, value) if name.eq_ignore_ascii_case("Proxy-Authenticate") => {
            Ok((value, true))
        }
        other => {
            let text = other.to_string();
            let name = text.split(':').next().unwrap_or_default();
            Err(AuthError::NotAChallenge(name.into()))
        }
    }
}

/// `name=value` pairs separated by commas; values are tokens or quoted strings with `\`
/// escapes. On error, the byte offset where parsing stopped.
fn parse_params(s: &str) -> Result<Vec<(String, String)>, usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let skip = |i: &mut usize, set: &[u8]| {
        while *i < bytes.len() && set.contains(&bytes[*i]) {
            *i += 1;
        }
    };
    loop {
        skip(&mut i, b" \t\r\n,");
        if i == bytes.len() {
            return Ok(out);
        }
        let start = i;
        while i < bytes.len() && !b"= \t,".contains(&bytes[i]) {
            i += 1;
        }
        let name = &s[start..i];
        skip(&mut i, b" \t");
        if name.is_empty() || bytes.get(i) != Some(&b'=') {
            return Err(i);
        }
        i += 1;
        skip(&mut i, b" \t");
        let value = if bytes.get(i) == Some(&b'"') {
            i += 1;
            let mut v = String::new();
            let mut chars = s[i..].char_indices();
            loop {
                match chars.next() {
                    None => return Err(s.len()),
                    Some((j, '"')) => {
                        i += j + 1;
                        break;
                    }
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => v.push(c),
                        None => return Err(s.len()),
                    },
                    Some((_, c)) => v.push(c),
                }
            }
            v
        } else {
            let start = i;
            while i < bytes.len() && !b" \t,".contains(&bytes[i]) {
                i += 1;
            }
            s[start..i].to_string()
        };
        out.push((name.to_string(), value));
        skip(&mut i, b" \t");
        if i < bytes.len() && bytes[i] != b',' {
            return Err(i);
        }
    }
}

/// A quoted-string with `"` and `\` escaped.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
