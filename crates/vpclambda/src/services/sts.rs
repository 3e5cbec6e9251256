//! STS: who am I. `GetCallerIdentity` reports the account owning the request's key.

use std::sync::Arc;

use bytes::Bytes;
use control::Accounts;
use http::Response;
use wire::AwsError;

use super::{unknown_query_action, Call, Service, STS_XMLNS};
use crate::server::AppState;

pub fn handle(_state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, AwsError> {
    let params = call.query_params()?;
    match params.get("Action") {
        Some("GetCallerIdentity") => {
            let id = match &call.session {
                Some(s) => control::CallerIdentity {
                    account: s.account.clone(),
                    arn: s.assumed_role_arn(),
                    user_id: s.user_id(),
                },
                None => Accounts::caller_identity(&call.account),
            };
            Ok(wire::response::query(
                "GetCallerIdentity",
                STS_XMLNS,
                &call.request_id,
                |w| {
                    w.elem("Arn", &id.arn);
                    w.elem("UserId", &id.user_id);
                    w.elem("Account", &id.account);
                },
            ))
        }
        _ => Err(unknown_query_action(Service::Sts, &params)),
    }
}
