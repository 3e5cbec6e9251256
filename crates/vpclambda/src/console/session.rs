//! Console sessions: who a browser is, and the CSRF token of its forms.
//!
//! A session is a cookie naming an account and an expiry, signed with HMAC-SHA256 under a
//! key drawn at start-up (sessions end with the process; nothing is stored). Its CSRF
//! token is a second MAC over the cookie, so a page of another origin, which cannot read
//! the cookie or our pages, cannot produce it. Before sign-in a random nonce cookie plays
//! the session's part, so the sign-in form has a token too. With the default key (which
//! `serve` allows on loopback only) a browser reaching the daemon by a loopback name has
//! the default account without signing in, as the API does; a name that is not loopback
//! (DNS rebinding) gets the sign-in form.

use std::sync::LazyLock;

use control::{Account, Accounts};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "vl_console";
pub const NONCE_COOKIE: &str = "vl_console_nonce";
/// How long a signed-in session lasts.
pub const LIFETIME_SECS: i64 = 12 * 60 * 60;

/// `None` if the OS had no randomness to give: then no session is issued or accepted.
static KEY: LazyLock<Option<[u8; 32]>> = LazyLock::new(|| {
    let mut key = [0u8; 32];
    match getrandom::fill(&mut key) {
        Ok(()) => Some(key),
        Err(e) => {
            tracing::error!(error = %e, "no randomness for console sessions: sign-in is off");
            None
        }
    }
});

fn mac(parts: &[&str]) -> Option<String> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(KEY.as_ref()?).ok()?;
    for p in parts {
        m.update(p.as_bytes());
        m.update(b"\0");
    }
    Some(hex::encode(m.finalize().into_bytes()))
}

/// Whether `token` is the MAC of `parts`.
fn mac_ok(token: &str, parts: &[&str]) -> bool {
    mac(parts).is_some_and(|m| same(token, &m))
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A browser's session.
#[derive(Clone, Debug)]
pub struct Session {
    pub account: Account,
    /// What the CSRF token is bound to: the cookie, or the implicit session's name.
    basis: String,
    pub implicit: bool,
}

impl Session {
    /// The token every form of this session carries.
    pub fn csrf(&self) -> String {
        mac(&["csrf", &self.basis]).unwrap_or_default()
    }

    /// Whether `token` is this session's.
    pub fn csrf_ok(&self, token: &str) -> bool {
        mac_ok(token, &["csrf", &self.basis])
    }
}

/// The cookie value of a new session of `account`, valid until `now + LIFETIME_SECS`.
pub fn issue(account: &Account, now: i64) -> Option<String> {
    let expires = (now + LIFETIME_SECS).to_string();
    let sig = mac(&["session", &account.account_id, &expires])?;
    Some(format!("{}.{expires}.{sig}", account.account_id))
}

/// `Set-Cookie` for a session cookie value (empty and expired to sign out).
pub fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!(
        "{name}={value}; Path=/_vpclambda/console; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    )
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The request's session: its signed cookie, or the implicit one of the default key.
pub fn of(headers: &HeaderMap, accounts: &Accounts, now: i64) -> Option<Session> {
    if let Some(value) = cookie(headers, COOKIE) {
        if let Some(s) = verify(value, accounts, now) {
            return Some(s);
        }
    }
    if !accounts.has_default_key() || !loopback_host(headers) {
        return None;
    }
    let account = accounts.iter().find(|a| a.is_default_key())?.clone();
    Some(Session {
        basis: format!("implicit.{}", account.account_id),
        account,
        implicit: true,
    })
}

fn verify(value: &str, accounts: &Accounts, now: i64) -> Option<Session> {
    let mut parts = value.splitn(3, '.');
    let (account_id, expires, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if !mac_ok(sig, &["session", account_id, expires]) {
        return None;
    }
    if expires.parse::<i64>().ok()? <= now {
        return None;
    }
    let account = accounts
        .iter()
        .find(|a| a.account_id == account_id)?
        .clone();
    Some(Session {
        account,
        basis: value.to_string(),
        implicit: false,
    })
}

/// A fresh nonce for the sign-in form's cookie.
pub fn nonce() -> Option<String> {
    let mut n = [0u8; 16];
    getrandom::fill(&mut n).ok()?;
    Some(hex::encode(n))
}

/// The sign-in form's CSRF token for `nonce`.
pub fn signin_token(nonce: &str) -> Option<String> {
    mac(&["signin", nonce])
}

pub fn signin_token_ok(nonce: &str, token: &str) -> bool {
    !nonce.is_empty() && mac_ok(token, &["signin", nonce])
}

/// The account whose access key and secret these are (the secret compared in constant
/// time).
pub fn sign_in(accounts: &Accounts, access_key_id: &str, secret: &str) -> Option<Account> {
    let account = accounts.lookup(access_key_id)?;
    same(secret, &account.secret_access_key).then(|| account.clone())
}

/// Whether the request came from a page of another origin: browsers say so in
/// `Sec-Fetch-Site` (`none` is the user's own navigation), older ones by the `Origin` of
/// a POST; a request with neither is no browser's cross-site form.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = fetch_site {
        return !matches!(site, "same-origin" | "none");
    }
    let origin = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            authority != Some(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Whether the `Host` the browser used names this machine's loopback.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Accounts {
        Accounts::new(vec![
            Account {
                access_key_id: "AKIAAAAA".into(),
                secret_access_key: "secret-a".into(),
                account_id: "111111111111".into(),
            },
            Account {
                access_key_id: "AKIABBBB".into(),
                secret_access_key: "secret-b".into(),
                account_id: "222222222222".into(),
            },
        ])
        .unwrap()
    }

    fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_signed_cookie_names_its_account_until_it_expires() {
        let a = accounts();
        let acct = sign_in(&a, "AKIAAAAA", "secret-a").unwrap();
        let value = issue(&acct, 1000).unwrap();
        let h = with(&[("cookie", &format!("x=1; {COOKIE}={value}"))]);
        let s = of(&h, &a, 1001).unwrap();
        assert_eq!(s.account.account_id, "111111111111");
        assert!(!s.implicit);
        assert!(of(&h, &a, 1000 + LIFETIME_SECS).is_none(), "expired");
    }

    #[test]
    fn a_cookie_cannot_be_moved_to_another_account_or_forged() {
        let a = accounts();
        let acct = sign_in(&a, "AKIAAAAA", "secret-a").unwrap();
        let value = issue(&acct, 1000).unwrap();
        let moved = value.replacen("111111111111", "222222222222", 1);
        let h = with(&[("cookie", &format!("{COOKIE}={moved}"))]);
        assert!(of(&h, &a, 1001).is_none());
        let h = with(&[("cookie", &format!("{COOKIE}=222222222222.99999999999.00"))]);
        assert!(of(&h, &a, 1001).is_none());
    }

    #[test]
    fn wrong_secrets_do_not_sign_in() {
        let a = accounts();
        assert!(sign_in(&a, "AKIAAAAA", "secret-b").is_none());
        assert!(sign_in(&a, "AKIANOPE", "secret-a").is_none());
    }

    #[test]
    fn csrf_tokens_are_per_session() {
        let a = accounts();
        let acct = a.iter().next().unwrap().clone();
        let session = |issued: i64| {
            let value = issue(&acct, issued).unwrap();
            of(
                &with(&[("cookie", &format!("{COOKIE}={value}"))]),
                &a,
                issued + 1,
            )
            .unwrap()
        };
        let (one, two) = (session(5), session(7));
        assert!(one.csrf_ok(&one.csrf()));
        assert!(!one.csrf_ok(&two.csrf()));
        assert!(!one.csrf_ok(""));
        let n = nonce().unwrap();
        let token = signin_token(&n).unwrap();
        assert!(signin_token_ok(&n, &token));
        assert!(!signin_token_ok(&nonce().unwrap(), &token));
        assert!(!signin_token_ok("", &token));
    }

    #[test]
    fn the_default_key_signs_in_loopback_names_only() {
        let a = Accounts::new(vec![Account::default_test()]).unwrap();
        for host in [
            "127.0.0.1:4566",
            "localhost:4566",
            "[::1]:4566",
            "localhost",
        ] {
            let s = of(&with(&[("host", host)]), &a, 0).unwrap();
            assert!(s.implicit, "{host}");
        }
        for host in ["evil.example:4566", "10.0.0.1:4566"] {
            assert!(of(&with(&[("host", host)]), &a, 0).is_none(), "{host}");
        }
        assert!(of(&with(&[("host", "127.0.0.1:4566")]), &accounts(), 0).is_none());
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let h = with(&[
            ("host", "127.0.0.1:4566"),
            ("origin", "http://127.0.0.1:4566"),
        ]);
        assert!(!cross_site(&h));
        let h = with(&[
            ("host", "127.0.0.1:4566"),
            ("origin", "http://evil.example"),
        ]);
        assert!(cross_site(&h));
        assert!(cross_site(&with(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&with(&[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&with(&[("sec-fetch-site", "same-origin")])));
        let h = with(&[("host", "127.0.0.1:4566"), ("origin", "null")]);
        assert!(cross_site(&h), "an opaque origin is not ours");
        assert!(!cross_site(&with(&[("host", "127.0.0.1:4566")])));
    }
}
