//! The lambda wire adapter: decodes requests, calls `control::lambda`, encodes responses.

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use wire::AwsError;

use super::Call;
use crate::server::AppState;

pub async fn handle(state: &Arc<AppState>, call: &Call) -> Result<Response<Bytes>, AwsError> {
    let _ = state;
    Err(super::unknown_rest_operation(call))
}
