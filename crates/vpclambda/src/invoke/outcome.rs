//! What an invocation's caller gets for each way it can end: the runtime's own answer, or
//! the error objects Lambda's platform writes (`Sandbox.Timedout`, `Runtime.ExitError`,
//! `Function.ResponseSizeTooLarge`, …) with the texts recorded from real AWS. Owns whether
//! an environment survives an outcome; knows nothing of HTTP.

use std::time::Duration;

use bytes::Bytes;
use sandbox::{Outcome, MAX_RESPONSE_BYTES};
use serde_json::json;

/// The answer to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub payload: Bytes,
    /// `X-Amz-Function-Error: Unhandled`.
    pub function_error: bool,
}

impl Answer {
    fn error(error_type: &str, message: String) -> Answer {
        Answer {
            payload: Bytes::from(
                json!({ "errorType": error_type, "errorMessage": message }).to_string(),
            ),
            function_error: true,
        }
    }

    /// An entry point the runtime cannot start (`Runtime.InvalidEntrypoint`).
    pub fn invalid_entrypoint(request_id: &str, detail: &str) -> Answer {
        Answer::error(
            "Runtime.InvalidEntrypoint",
            format!("RequestId: {request_id} Error: {detail}"),
        )
    }
}

/// The answer for `outcome`, and platform lines for the log (before END).
pub fn answer(outcome: &Outcome, request_id: &str, timeout: Duration) -> (Answer, Vec<String>) {
    match outcome {
        Outcome::Response(body) => (
            Answer {
                payload: body.clone(),
                function_error: false,
            },
            Vec::new(),
        ),
        Outcome::FunctionError { body, .. } => (
            Answer {
                payload: body.clone(),
                function_error: true,
            },
            Vec::new(),
        ),
        Outcome::InitError { body, error_type } => {
            let answer = if body.is_empty() {
                Answer::error(
                    error_type.as_deref().unwrap_or("Runtime.Unknown"),
                    format!("RequestId: {request_id} Error: Runtime failed to initialize"),
                )
            } else {
                Answer {
                    payload: body.clone(),
                    function_error: true,
                }
            };
            (answer, Vec::new())
        }
        Outcome::Timeout => {
            let message = format!(
                "Task timed out after {:.2} seconds",
                timeout.as_secs_f64()
            );
            let line = format!(
                "{} {request_id} {message}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
            );
            (
                Answer::error(
                    "Sandbox.Timedout",
                    format!("RequestId: {request_id} Error: {message}"),
                ),
                vec![line],
            )
        }
        Outcome::Exited {
            code,
            signal,
            oom_killed,
        } => {
            let reason = exit_reason(*code, *signal, *oom_killed);
            let message = format!("RequestId: {request_id} Error: {reason}");
            (
                Answer::error("Runtime.ExitError", message.clone()),
                vec![format!("{message}\nRuntime.ExitError")],
            )
        }
        Outcome::ResponseTooLarge => (
            Answer::error(
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                ),
            ),
            Vec::new(),
        ),
    }
}

/// Whether the environment can serve another invocation after `outcome`.
pub fn survives(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Response(_) | Outcome::FunctionError { .. } | Outcome::ResponseTooLarge
    )
}

/// Go's `exec.ExitError` wording, which Lambda's platform prints.
fn exit_reason(code: Option<i32>, signal: Option<i32>, oom_killed: bool) -> String {
    if oom_killed {
        return "Runtime exited with error: signal: killed".into();
    }
    match (code, signal) {
        (_, Some(sig)) => format!("Runtime exited with error: signal: {}", signal_name(sig)),
        (Some(0), None) | (None, None) => "Runtime exited without providing a reason".into(),
        (Some(code), None) => format!("Runtime exited with error: exit status {code}"),
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        1 => "hangup".into(),
        2 => "interrupt".into(),
        3 => "quit".into(),
        4 => "illegal instruction".into(),
        6 => "aborted".into(),
        7 => "bus error".into(),
        8 => "floating point exception".into(),
        9 => "killed".into(),
        11 => "segmentation fault".into(),
        13 => "broken pipe".into(),
        15 => "terminated".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(a: &Answer) -> String {
        String::from_utf8(a.payload.to_vec()).unwrap()
    }

    #[test]
    fn platform_errors_have_lambdas_shapes() {
        let (a, lines) = answer(&Outcome::Timeout, "id1", Duration::from_secs(1));
        assert!(a.function_error);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text(&a)).unwrap(),
            json!({"errorType":"Sandbox.Timedout","errorMessage":"RequestId: id1 Error: Task timed out after 1.00 seconds"})
        );
        assert!(lines[0].ends_with(" id1 Task timed out after 1.00 seconds"));

        let oom = Outcome::Exited {
            code: None,
            signal: Some(9),
            oom_killed: true,
        };
        let (a, _) = answer(&oom, "id2", Duration::from_secs(3));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text(&a)).unwrap(),
            json!({"errorType":"Runtime.ExitError","errorMessage":"RequestId: id2 Error: Runtime exited with error: signal: killed"})
        );
        let exit = Outcome::Exited {
            code: Some(127),
            signal: None,
            oom_killed: false,
        };
        assert!(text(&answer(&exit, "i", Duration::from_secs(1)).0)
            .contains("Runtime exited with error: exit status 127"));
        let clean = Outcome::Exited {
            code: Some(0),
            signal: None,
            oom_killed: false,
        };
        assert!(text(&answer(&clean, "i", Duration::from_secs(1)).0)
            .contains("Runtime exited without providing a reason"));

        let (a, _) = answer(&Outcome::ResponseTooLarge, "i", Duration::from_secs(1));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text(&a)).unwrap(),
            json!({"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes)."})
        );
    }

    #[test]
    fn handler_errors_pass_through_and_keep_the_environment() {
        let body = Bytes::from_static(br#"{"errorMessage":"boom","errorType":"KeyError"}"#);
        let o = Outcome::FunctionError {
            body: body.clone(),
            error_type: Some("KeyError".into()),
        };
        let (a, _) = answer(&o, "i", Duration::from_secs(1));
        assert_eq!(a.payload, body);
        assert!(a.function_error);
        assert!(survives(&o));
        assert!(!survives(&Outcome::Timeout));
    }
}
