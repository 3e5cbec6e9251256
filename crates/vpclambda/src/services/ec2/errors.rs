//! The one mapping from EC2 domain errors to AWS errors. EC2 answers every client fault
//! with HTTP 400 and the code and message carry the meaning; faults of ours are 500s whose
//! detail goes to the log only.

use control::ec2::Ec2Error;
use wire::AwsError;

pub fn to_aws(e: Ec2Error) -> AwsError {
    match e {
        Ec2Error::Store(err) => {
            tracing::error!(error = %err, "ec2 store failure");
            AwsError::new(500, "InternalError", "An internal error has occurred")
        }
        other => AwsError::new(400, other.code(), other.to_string()),
    }
}
