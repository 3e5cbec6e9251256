//! The asynchronous invocation settings' wire adapter: Put/Get/Update/Delete
//! `FunctionEventInvokeConfig` on `/2019-09-25/functions/{name}/event-invoke-config` (with
//! `?Qualifier=`) and its `/list`, decoded into `control::lambda` inputs and encoded as the
//! model's `FunctionEventInvokeConfig`.

use control::lambda::{
    DestinationsChange, EventConfigChange, EventInvokeConfig, Lambda, LambdaError, NameShape,
};
use control::Scope;
use http::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::parse;
use super::{answer, Outcome, Request};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct EventConfigInput {
    maximum_retry_attempts: Option<i64>,
    maximum_event_age_in_seconds: Option<i64>,
    destination_config: Option<DestinationConfigInput>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DestinationConfigInput {
    on_success: Option<DestinationInput>,
    on_failure: Option<DestinationInput>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DestinationInput {
    destination: Option<String>,
}

impl From<EventConfigInput> for EventConfigChange {
    fn from(i: EventConfigInput) -> Self {
        EventConfigChange {
            maximum_retry_attempts: i.maximum_retry_attempts,
            maximum_event_age_secs: i.maximum_event_age_in_seconds,
            destinations: i.destination_config.map(|d| DestinationsChange {
                on_success: d.on_success.map(|s| s.destination),
                on_failure: d.on_failure.map(|f| f.destination),
            }),
        }
    }
}

/// `/2019-09-25/functions/{f}/event-invoke-config` by method.
pub(super) fn handle(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let action = match req.method {
        Method::PUT => "PutFunctionEventInvokeConfig",
        Method::POST => "UpdateFunctionEventInvokeConfig",
        Method::GET => "GetFunctionEventInvokeConfig",
        _ => "DeleteFunctionEventInvokeConfig",
    };
    let fref = req
        .function(f, NameShape::Namespaced, action)?
        .with_qualifier(req.param("Qualifier"))?;
    let scope = &req.scope;
    let config = match req.method {
        Method::PUT => {
            let input: EventConfigInput = parse(&req.body)?;
            lambda.put_event_invoke_config(scope, &fref, input.into())?
        }
        Method::POST => {
            let input: EventConfigInput = parse(&req.body)?;
            lambda.update_event_invoke_config(scope, &fref, input.into())?
        }
        Method::GET => lambda.get_event_invoke_config(scope, &fref)?,
        Method::DELETE => {
            lambda.delete_event_invoke_config(scope, &fref)?;
            return answer(req.empty(204));
        }
        _ => {
            return Err(LambdaError::InvalidRequestContent(format!(
                "{} is not an event invoke config operation",
                req.method
            )))
        }
    };
    answer(req.json(200, &shape(&config, scope)))
}

/// ListFunctionEventInvokeConfigs.
pub(super) fn list(lambda: &Lambda, req: &Request, f: &str) -> Outcome {
    let fref = req.function(f, NameShape::Namespaced, "ListFunctionEventInvokeConfigs")?;
    let page = lambda.list_event_invoke_configs(
        &req.scope,
        &fref,
        req.param("Marker"),
        req.int_param("MaxItems")?,
    )?;
    let configs: Vec<Value> = page.items.iter().map(|c| shape(c, &req.scope)).collect();
    let mut body = json!({ "FunctionEventInvokeConfigs": configs });
    if let Some(m) = page.next_marker {
        body["NextMarker"] = json!(m);
    }
    answer(req.json(200, &body))
}

/// `FunctionEventInvokeConfig`: `LastModified` in epoch seconds, both destination members
/// always there (empty when unset), the limits only when set.
fn shape(c: &EventInvokeConfig, scope: &Scope) -> Value {
    let destination = |d: &Option<String>| match d {
        Some(arn) => json!({ "Destination": arn }),
        None => json!({}),
    };
    let mut out = json!({
        "LastModified": c.last_modified_ms as f64 / 1000.0,
        "FunctionArn": c.arn(scope),
        "DestinationConfig": {
            "OnSuccess": destination(&c.on_success),
            "OnFailure": destination(&c.on_failure),
        },
    });
    if let Some(n) = c.maximum_retry_attempts {
        out["MaximumRetryAttempts"] = json!(n);
    }
    if let Some(n) = c.maximum_event_age_secs {
        out["MaximumEventAgeInSeconds"] = json!(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_the_models() {
        let scope = Scope::new("123456789012", "us-east-1");
        let c = EventInvokeConfig {
            function_name: "f".into(),
            qualifier: "$LATEST".into(),
            maximum_retry_attempts: Some(0),
            maximum_event_age_secs: None,
            on_success: None,
            on_failure: Some("arn:aws:lambda:us-east-1:123456789012:function:d".into()),
            last_modified_ms: 1_573_687_896_493,
        };
        assert_eq!(
            shape(&c, &scope),
            json!({
                "LastModified": 1_573_687_896.493,
                "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
                "MaximumRetryAttempts": 0,
                "DestinationConfig": {
                    "OnSuccess": {},
                    "OnFailure": {"Destination": "arn:aws:lambda:us-east-1:123456789012:function:d"},
                },
            })
        );
    }
}
