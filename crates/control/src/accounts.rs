//! Accounts and their access keys. An access key maps to exactly one account; every
//! resource is scoped by account (and region), so an account never sees another's.

use std::collections::HashMap;

/// The account every fresh install serves with key `test` / secret `test`.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
pub const DEFAULT_ACCESS_KEY_ID: &str = "test";
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "test";

/// One access key and the account it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
}

impl Account {
    pub fn default_test() -> Self {
        Account {
            access_key_id: DEFAULT_ACCESS_KEY_ID.into(),
            secret_access_key: DEFAULT_SECRET_ACCESS_KEY.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
        }
    }

    /// Whether this is the well-known default key, which may only serve loopback.
    pub fn is_default_key(&self) -> bool {
        self.access_key_id == DEFAULT_ACCESS_KEY_ID
    }
}

/// Why a set of accounts is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountsError {
    #[error("account id '{0}' is not 12 digits")]
    BadAccountId(String),
    #[error("access key id '{0}' is configured twice")]
    DuplicateKey(String),
    #[error("access key id '{0}' must be 1 to 128 characters of A-Z, a-z, 0-9")]
    BadAccessKey(String),
    #[error("the secret of access key '{0}' is empty")]
    EmptySecret(String),
}

/// Who made a request, as STS `GetCallerIdentity` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// The access keys the daemon accepts.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    by_key: HashMap<String, Account>,
}

impl Accounts {
    pub fn new(accounts: Vec<Account>) -> Result<Self, AccountsError> {
        let mut by_key = HashMap::new();
        for a in accounts {
            if a.account_id.len() != 12 || !a.account_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(AccountsError::BadAccountId(a.account_id));
            }
            if a.access_key_id.is_empty()
                || a.access_key_id.len() > 128
                || !a.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(AccountsError::BadAccessKey(a.access_key_id));
            }
            if a.secret_access_key.is_empty() {
                return Err(AccountsError::EmptySecret(a.access_key_id));
            }
            if by_key.contains_key(&a.access_key_id) {
                return Err(AccountsError::DuplicateKey(a.access_key_id));
            }
            by_key.insert(a.access_key_id.clone(), a);
        }
        Ok(Accounts { by_key })
    }

    pub fn lookup(&self, access_key_id: &str) -> Option<&Account> {
        self.by_key.get(access_key_id)
    }

    pub fn has_default_key(&self) -> bool {
        self.by_key.values().any(Account::is_default_key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.by_key.values()
    }

    /// The identity of a request signed with `account`'s key: the account's root user.
    pub fn caller_identity(account: &Account) -> CallerIdentity {
        CallerIdentity {
            account: account.account_id.clone(),
            arn: format!("arn:aws:iam::{}:root", account.account_id),
            user_id: account.account_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(key: &str, id: &str) -> Account {
        Account {
            access_key_id: key.into(),
            secret_access_key: "s".into(),
            account_id: id.into(),
        }
    }

    #[test]
    fn validates_ids_and_duplicates() {
        assert!(Accounts::new(vec![acct("a", "111111111111")]).is_ok());
        assert_eq!(
            Accounts::new(vec![acct("a", "123")]).unwrap_err(),
            AccountsError::BadAccountId("123".into())
        );
        assert_eq!(
            Accounts::new(vec![acct("a", "111111111111"), acct("a", "222222222222")]).unwrap_err(),
            AccountsError::DuplicateKey("a".into())
        );
        assert!(Accounts::new(vec![acct("a b", "111111111111")]).is_err());
    }

    #[test]
    fn caller_identity_is_root_of_account() {
        let id = Accounts::caller_identity(&Account::default_test());
        assert_eq!(id.account, "000000000000");
        assert_eq!(id.arn, "arn:aws:iam::000000000000:root");
    }
}
