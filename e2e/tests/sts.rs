//! The foundation's acceptance through the AWS SDK for Rust.

use e2e::Daemon;

#[tokio::test]
async fn get_caller_identity_with_the_rust_sdk() {
    let daemon = Daemon::start();
    let sts = aws_sdk_sts::Client::new(&daemon.sdk_config().await);
    let id = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(id.account(), Some("000000000000"));
    assert_eq!(id.arn(), Some("arn:aws:iam::000000000000:root"));
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match() {
    let daemon = Daemon::start();
    let config = daemon.sdk_config().await;
    let config = config
        .into_builder()
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("test", "wrong", None, None, "e2e"),
        ))
        .build();
    let err = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .expect_err("a wrong secret must be refused");
    let service_err = err.into_service_error();
    let meta = aws_sdk_sts::error::ProvideErrorMetadata::meta(&service_err);
    assert_eq!(meta.code(), Some("SignatureDoesNotMatch"));
}
