//! `ClientToken` idempotency: the first call with a token remembers which resource it made
//! and a fingerprint of its parameters, in the same transaction as the resource itself.
//! A retry with the same parameters gets the original resource; different parameters are
//! `IdempotentParameterMismatch`.

use serde::{Deserialize, Serialize};

use super::error::Ec2Error;
use super::model::kind;
use crate::store::{Scope, StoreError, Tx, TxExt};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Remembered {
    fingerprint: String,
    resource_id: String,
}

/// A client token with the fingerprint of the request that carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientToken {
    pub operation: &'static str,
    pub token: String,
    pub fingerprint: String,
}

impl ClientToken {
    /// `fingerprint_of` is the request without its token (a serialisable request struct).
    pub fn new(
        operation: &'static str,
        token: &str,
        fingerprint_of: &impl Serialize,
    ) -> Result<ClientToken, Ec2Error> {
        if token.is_empty() || token.len() > 64 || !token.is_ascii() {
            return Err(Ec2Error::invalid_value("clientToken", token));
        }
        let fingerprint = serde_json::to_string(fingerprint_of).map_err(StoreError::Encode)?;
        Ok(ClientToken {
            operation,
            token: token.to_string(),
            fingerprint,
        })
    }

    fn key(&self) -> String {
        format!("{}/{}", self.operation, self.token)
    }

    /// The resource an earlier call with this token made, if any.
    pub fn recall(&self, tx: &mut dyn Tx, scope: &Scope) -> Result<Option<String>, Ec2Error> {
        match tx.get_json::<Remembered>(kind::CLIENT_TOKEN, scope, &self.key())? {
            None => Ok(None),
            Some(r) if r.fingerprint == self.fingerprint => Ok(Some(r.resource_id)),
            Some(_) => Err(Ec2Error::IdempotentParameterMismatch(self.token.clone())),
        }
    }

    pub fn remember(
        &self,
        tx: &mut dyn Tx,
        scope: &Scope,
        resource_id: &str,
    ) -> Result<(), Ec2Error> {
        let r = Remembered {
            fingerprint: self.fingerprint.clone(),
            resource_id: resource_id.to_string(),
        };
        tx.put_json(kind::CLIENT_TOKEN, scope, &self.key(), &r)?;
        Ok(())
    }
}
