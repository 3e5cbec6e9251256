//! Temporary credentials of an assumed role, as STS issues them: what a function's
//! execution environment gets in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN`. The gateway accepts them like an account's key, with the session
//! token required and checked, until they expire.

use serde::{Deserialize, Serialize};

use crate::iam::lookup::RoleInfo;
use crate::store::{Scope, StoreError, Tx, TxExt};

/// Store kind of a session, id = its access key id, in the [`sessions_scope`].
const SESSION: &str = "sts.session";

/// Sessions are found by access key alone, before the account is known.
fn sessions_scope() -> Scope {
    Scope::new("", "")
}

/// One set of temporary credentials and whose they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub account: String,
    pub role_arn: String,
    pub role_id: String,
    pub role_name: String,
    pub session_name: String,
    /// Epoch milliseconds.
    pub expires_at: i64,
}

impl Session {
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`, as GetCallerIdentity says.
    pub fn assumed_role_arn(&self) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            self.account, self.role_name, self.session_name
        )
    }

    /// The account's view of these credentials, for signature checks and scoping.
    pub fn account(&self) -> crate::Account {
        crate::Account {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            account_id: self.account.clone(),
        }
    }

    /// `<role id>:<session>`.
    pub fn user_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Access key ids are upper-case base32, like AWS's.
const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `len` characters of `alphabet` from the OS random source.
fn random(alphabet: &[u8], len: usize) -> Result<String, StoreError> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect())
}

/// Issues credentials for `role` in `account`, valid for `ttl_ms` from `now_ms`, and
/// forgets the expired ones.
pub fn assume_role(
    tx: &mut dyn Tx,
    account: &str,
    role: &RoleInfo,
    session_name: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<Session, StoreError> {
    let session = Session {
        access_key_id: format!("ASIA{}", random(KEY_ALPHABET, 16)?),
        secret_access_key: random(ALPHANUMERIC, 40)?,
        session_token: random(ALPHANUMERIC, 256)?,
        account: account.to_string(),
        role_arn: role.arn.clone(),
        role_id: role.role_id.clone(),
        role_name: role.name.clone(),
        session_name: session_name.to_string(),
        expires_at: now_ms.saturating_add(ttl_ms),
    };
    let scope = sessions_scope();
    for (id, body) in tx.list(SESSION, &scope, "")? {
        let expired =
            serde_json::from_slice::<Session>(&body).map_or(true, |s| s.expires_at <= now_ms);
        if expired {
            tx.delete(SESSION, &scope, &id)?;
        }
    }
    tx.put_json(SESSION, &scope, &session.access_key_id, &session)?;
    Ok(session)
}

/// The session an access key belongs to, if any (expired ones included: the caller tells
/// "expired" from "unknown").
pub fn session(tx: &mut dyn Tx, access_key_id: &str) -> Result<Option<Session>, StoreError> {
    tx.get_json(SESSION, &sessions_scope(), access_key_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn issue_find_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).unwrap();
        let role = RoleInfo {
            arn: "arn:aws:iam::111111111111:role/exec".into(),
            role_id: "AROAEXAMPLE".into(),
            name: "exec".into(),
            path: "/".into(),
        };
        let s = store
            .write(|tx| assume_role(tx, "111111111111", &role, "fn", 1_000, 10_000))
            .unwrap();
        assert!(s.access_key_id.starts_with("ASIA") && s.access_key_id.len() == 20);
        assert_eq!(s.secret_access_key.len(), 40);
        assert_eq!(
            s.assumed_role_arn(),
            "arn:aws:sts::111111111111:assumed-role/exec/fn"
        );
        let found = store.read(|tx| session(tx, &s.access_key_id)).unwrap();
        assert_eq!(found, Some(s.clone()));
        store
            .write(|tx| assume_role(tx, "111111111111", &role, "other", 20_000, 10_000))
            .unwrap();
        assert_eq!(
            store.read(|tx| session(tx, &s.access_key_id)).unwrap(),
            None,
            "expired ones are forgotten"
        );
    }
}
