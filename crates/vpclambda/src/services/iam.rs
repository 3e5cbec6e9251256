//! The iam wire adapter: decodes requests, calls `control::iam`, encodes responses.

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use wire::AwsError;

use super::Call;
use crate::server::AppState;

pub async fn handle(state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, AwsError> {
    let _ = state;
    let params = call.query_params()?;
    Err(super::unknown_query_action(super::Service::Iam, &params))
}
