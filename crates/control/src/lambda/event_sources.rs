//! Event source mappings. Every event source a mapping can read (SQS, Kinesis, DynamoDB
//! streams, Amazon MSK and self-managed Kafka, Amazon MQ, DocumentDB) is a service this
//! Lambda does not have, so no mapping can exist: CreateEventSourceMapping is refused
//! naming the missing service, listings are empty, and any UUID is not found. Requests are
//! still validated as Lambda validates them.

use std::convert::Infallible;

use super::error::LambdaError;
use super::functions::{load_function, Lambda};
use super::names::{FunctionRef, NameShape};
use super::validate::Violations;
use crate::store::Scope;

const EVENT_SOURCE_ARN_PATTERN: &str =
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)";

/// CreateEventSourceMapping's members that decide what is refused.
#[derive(Clone, Debug, Default)]
pub struct MappingRequest {
    pub function_name: Option<String>,
    pub event_source_arn: Option<String>,
    /// Whether `SelfManagedEventSource` (a Kafka cluster of one's own) was given.
    pub self_managed: bool,
}

fn not_found() -> LambdaError {
    LambdaError::ResourceNotFound("The resource you requested does not exist.".into())
}

/// The service of an event source ARN, in the words Lambda's documentation uses.
fn service_of(arn: &str) -> Option<&'static str> {
    let service = arn.split(':').nth(2)?;
    Some(match service {
        "sqs" => "Amazon SQS",
        "kinesis" => "Amazon Kinesis",
        "dynamodb" => "Amazon DynamoDB Streams",
        "kafka" => "Amazon MSK",
        "mq" => "Amazon MQ",
        "rds" | "docdb" | "docdb-elastic" => "Amazon DocumentDB",
        _ => return None,
    })
}

fn check_source_arn(v: &mut Violations, arn: &str) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = match parts.as_slice() {
        ["arn", partition, service, region, account, _] => {
            partition.starts_with("aws")
                && partition[3..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !service.is_empty()
                && service
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (region.is_empty() || super::names::is_region(region))
                && (account.is_empty()
                    || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
        }
        _ => false,
    };
    if !ok {
        v.push(
            arn,
            "eventSourceArn",
            &format!("Member must satisfy regular expression pattern: {EVENT_SOURCE_ARN_PATTERN}"),
        );
    }
}

impl Lambda {
    /// CreateEventSourceMapping: validated, then refused for want of the event source.
    pub fn create_event_source_mapping(
        &self,
        scope: &Scope,
        req: MappingRequest,
    ) -> Result<Infallible, LambdaError> {
        let mut v = Violations::default();
        if req.function_name.is_none() {
            v.null("functionName");
        }
        if let Some(arn) = &req.event_source_arn {
            check_source_arn(&mut v, arn);
        }
        v.finish()?;
        let raw = req.function_name.unwrap_or_default();
        let fref = FunctionRef::parse(
            &raw,
            NameShape::Namespaced,
            scope,
            "CreateEventSourceMapping",
        )?;
        self.store
            .read(|tx| load_function(tx, scope, &fref.name).map(|_| ()))?;
        let message = match (&req.event_source_arn, req.self_managed) {
            (Some(arn), _) => match service_of(arn) {
                Some(service) => format!(
                    "Event source mappings are not supported here: the event source {arn} would be read from {service}, which this Lambda does not have."
                ),
                None => format!(
                    "Unrecognized event source, must be kinesis, dynamodb stream, sqs, msk, mq or documentdb: {arn}"
                ),
            },
            (None, true) => "Event source mappings are not supported here: a self-managed Apache Kafka cluster cannot be reached from this Lambda.".to_string(),
            (None, false) => "Unrecognized event source, must be kinesis, dynamodb stream, sqs, msk, mq or documentdb.".to_string(),
        };
        Err(LambdaError::invalid(message))
    }

    /// ListEventSourceMappings: always empty, after the filters are checked.
    pub fn list_event_source_mappings(
        &self,
        scope: &Scope,
        function_name: Option<&str>,
        event_source_arn: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<(), LambdaError> {
        let mut v = Violations::default();
        if let Some(arn) = event_source_arn {
            check_source_arn(&mut v, arn);
        }
        if let Some(n) = max_items {
            v.range(n, "maxItems", 1, Some(10_000));
        }
        v.finish()?;
        if let Some(raw) = function_name {
            FunctionRef::parse(raw, NameShape::Namespaced, scope, "ListEventSourceMappings")?;
        }
        Ok(())
    }

    /// GetEventSourceMapping, UpdateEventSourceMapping, DeleteEventSourceMapping: no
    /// mapping exists.
    pub fn event_source_mapping(&self, _uuid: &str) -> Result<Infallible, LambdaError> {
        Err(not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_named() {
        assert_eq!(
            service_of("arn:aws:sqs:us-east-1:123456789012:q"),
            Some("Amazon SQS")
        );
        assert_eq!(
            service_of("arn:aws:kafka:us-east-1:123456789012:cluster/c/1"),
            Some("Amazon MSK")
        );
        assert_eq!(service_of("arn:aws:s3:::bucket"), None);
        let mut v = Violations::default();
        check_source_arn(&mut v, "arn:aws:sqs:us-east-1:123456789012:q");
        assert!(v.finish().is_ok());
        let mut v = Violations::default();
        check_source_arn(&mut v, "queue");
        assert!(v.finish().is_err());
    }
}
