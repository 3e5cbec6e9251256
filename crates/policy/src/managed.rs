//! The AWS managed policies vpclambda pre-seeds in every account: their metadata as
//! `GetPolicy` reports it and the documents of the versions we carry. Owns only this static
//! catalogue; it must not track attachments or accounts (that is the store's job).
//!
//! Documents and dates are AWS's own (AWS Managed Policy Reference, cross-checked with moto's
//! `aws_managed_policies.py`); only the default version of each policy is carried.
//! Policy ids are the real ones except `AWSLambda_ReadOnlyAccess`, whose id we could not find
//! published and which carries a stable made-up id of the same shape.

/// One AWS managed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// `PolicyName`, e.g. `AWSLambdaVPCAccessExecutionRole`.
    pub name: &'static str,
    /// `Path`, e.g. `/service-role/`.
    pub path: &'static str,
    /// `Arn`, e.g. `arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`.
    pub arn: &'static str,
    /// `PolicyId` (`ANPA…`).
    pub policy_id: &'static str,
    /// `Description`.
    pub description: &'static str,
    /// `DefaultVersionId`, e.g. `v3`.
    pub default_version_id: &'static str,
    /// `CreateDate`, ISO 8601 UTC.
    pub create_date: &'static str,
    /// `UpdateDate`, ISO 8601 UTC.
    pub update_date: &'static str,
    /// The versions we carry, oldest first; always includes the default version.
    pub versions: &'static [ManagedPolicyVersion],
}

/// One version of a managed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedPolicyVersion {
    /// `VersionId`, e.g. `v3`.
    pub version_id: &'static str,
    /// The policy document as JSON text, exactly as `GetPolicyVersion` returns it (before
    /// percent-encoding).
    pub document: &'static str,
    /// `CreateDate` of the version, ISO 8601 UTC.
    pub create_date: &'static str,
}

impl ManagedPolicy {
    /// The version `GetPolicy`'s `DefaultVersionId` names.
    pub fn default_version(&self) -> Option<&'static ManagedPolicyVersion> {
        self.version(self.default_version_id)
    }

    /// The version with `version_id`, if we carry it.
    pub fn version(&self, version_id: &str) -> Option<&'static ManagedPolicyVersion> {
        self.versions.iter().find(|v| v.version_id == version_id)
    }
}

/// Every AWS managed policy vpclambda knows, in ARN order.
pub fn aws_managed() -> &'static [ManagedPolicy] {
    &AWS_MANAGED
}

/// The AWS managed policy with `arn`, if vpclambda knows it. ARNs are matched exactly, as IAM
/// does.
pub fn aws_managed_by_arn(arn: &str) -> Option<&'static ManagedPolicy> {
    AWS_MANAGED.iter().find(|p| p.arn == arn)
}

static AWS_MANAGED: [ManagedPolicy; 8] = [
    ManagedPolicy {
        name: "AWSLambdaExecute",
        path: "/",
        arn: "arn:aws:iam::aws:policy/AWSLambdaExecute",
        policy_id: "ANPAJE5FX7FQZSU5XAKGO",
        description: "Provides Put, Get access to S3 and full access to CloudWatch Logs.",
        default_version_id: "v1",
        create_date: "2015-02-06T18:40:46Z",
        update_date: "2015-02-06T18:40:46Z",
        versions: &[ManagedPolicyVersion {
            version_id: "v1",
            document: AWS_LAMBDA_EXECUTE_DOCUMENT,
            create_date: "2015-02-06T18:40:46Z",
        }],
    },
    ManagedPolicy {
        name: "AWSLambda_FullAccess",
        path: "/",
        arn: "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
        policy_id: "ANPAZKAPJZG4OXQPYWZ5D",
        description: "Grants full access to AWS Lambda service, AWS Lambda console features, \
                      and other related AWS services.",
        default_version_id: "v7",
        create_date: "2020-11-17T21:14:08Z",
        update_date: "2026-02-12T18:00:51Z",
        versions: &[ManagedPolicyVersion {
            version_id: "v7",
            document: AWS_LAMBDA_FULL_ACCESS_DOCUMENT,
            create_date: "2026-02-12T18:00:51Z",
        }],
    },
    ManagedPolicy {
        name: "AWSLambda_ReadOnlyAccess",
        path: "/",
        arn: "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess",
        policy_id: "ANPAVLAMBDAREADONLY01",
        description: "Grants read-only access to AWS Lambda service, AWS Lambda console \
                      features, and other related AWS services.",
        default_version_id: "v5",
        create_date: "2020-11-17T21:10:32Z",
        update_date: "2026-02-12T18:02:55Z",
        versions: &[ManagedPolicyVersion {
            version_id: "v5",
            document: AWS_LAMBDA_READ_ONLY_ACCESS_DOCUMENT,
            create_date: "2026-02-12T18:02:55Z",
        }],
    },
    ManagedPolicy {
        name: "AdministratorAccess",
        path: "/",
        arn: "arn:aws:iam::aws:policy/AdministratorAccess",
        policy_id: "ANPAIWMBCKSKIEE64ZLYK",
        description: "Provides full access to AWS services and resources.",
        default_version_id: "v1",
        create_date: "2015-02-06T18:39:46Z",
        update_date: "2015-02-06T18:39:46Z",
        versions: &[ManagedPolicyVersion {
            version_id: "v1",
            document: ADMINISTRATOR_ACCESS_DOCUMENT,
            create_date: "2015-02-06T18:39:46Z",
        }],
    },
    ManagedPolicy {
        name: "AWSLambdaBasicExecutionRole",
        path: "/service-role/",
        arn: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        policy_id: "ANPAJNCQGXC42545SKXIK",
        description: "Provides write permissions to CloudWatch Logs.",
        default_version_id: "v1",
        create_date: "2015-04-09T15:03:43Z",
        update_date: "2015-04-09T15:03:43Z",
        versions: &[ManagedPolicyVersion {
            version_id: "v1",
            document: AWS_LAMBDA_BASIC_EXECUTION_ROLE_DOCUMENT,
            create_date: "2015-04-09T15:03:43Z",
        }],
    },
    ManagedPolicy {
        name: "AWSLambdaENIManagementAccess",
        path: "/service-role/",
        arn: "arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess",
        policy_id: "ANPAJXAW2Q3KPTURUT2QC",
        description: "Provides minimum permissions for a Lambda function to manage ENIs \
                      (create, describe, delete) used by a VPC-enabled Lambda Function.",
        default_version_id: "v2",
        create_date: "2016-12-06T00:37:27Z",
        update_date: "2020-10-01T20:07:26Z",
        versions: &[ManagedPolicyVersion {
            version_id: "v2",
            document: AWS_LAMBDA_ENI_MANAGEMENT_ACCESS_DOCUMENT,
            create_date: "2020-10-01T20:07:26Z",
        }],
    },
    ManagedPolicy {
        name: "AWSLambdaRole",
        path: "/service-role/",
        arn: "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
        policy_id: "ANPAJX4DPCRGTC4NFDUXI",
        description: "Default policy for AWS Lambda service role.",
        default_version_id: "v1",
        create_date: "2015-02-06T18:41:28Z",
        update_date: "2015-02-06T18:41:28Z",
        versions: &[ManagedPolicyVersion {
            version_id: "v1",
            document: AWS_LAMBDA_ROLE_DOCUMENT,
            create_date: "2015-02-06T18:41:28Z",
        }],
    },
    ManagedPolicy {
        name: "AWSLambdaVPCAccessExecutionRole",
        path: "/service-role/",
        arn: "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        policy_id: "ANPAJVTME3YLVNL72YR2K",
        description: "Provides minimum permissions for a Lambda function to execute while \
                      accessing a resource within a VPC - create, describe, delete network \
                      interfaces and write permissions to CloudWatch Logs.",
        default_version_id: "v3",
        create_date: "2016-02-11T23:15:26Z",
        update_date: "2024-01-05T22:38:26Z",
        versions: &[ManagedPolicyVersion {
            version_id: "v3",
            document: AWS_LAMBDA_VPC_ACCESS_EXECUTION_ROLE_DOCUMENT,
            create_date: "2024-01-05T22:38:26Z",
        }],
    },
];

const AWS_LAMBDA_BASIC_EXECUTION_ROLE_DOCUMENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ],
            "Resource": "*"
        }
    ]
}"#;

const AWS_LAMBDA_VPC_ACCESS_EXECUTION_ROLE_DOCUMENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AWSLambdaVPCAccessExecutionPermissions",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses"
            ],
            "Resource": "*"
        }
    ]
}"#;

const AWS_LAMBDA_ENI_MANAGEMENT_ACCESS_DOCUMENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses"
            ],
            "Resource": "*"
        }
    ]
}"#;

const AWS_LAMBDA_ROLE_DOCUMENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "lambda:InvokeFunction"
            ],
            "Resource": [
                "*"
            ]
        }
    ]
}"#;

const AWS_LAMBDA_EXECUTE_DOCUMENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:*"
            ],
            "Resource": "arn:aws:logs:*:*:*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject"
            ],
            "Resource": "arn:aws:s3:::*"
        }
    ]
}"#;

const AWS_LAMBDA_FULL_ACCESS_DOCUMENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "cloudformation:DescribeStacks",
                "cloudformation:ListStackResources",
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricData",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "kms:DescribeKey",
                "kms:ListAliases",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:ListRoles",
                "lambda:*",
                "logs:DescribeLogGroups",
                "states:DescribeStateMachine",
                "states:ListStateMachines",
                "tag:GetResources",
                "xray:GetTraceSummaries",
                "xray:BatchGetTraces"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "iam:PassedToService": "lambda.amazonaws.com"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:StartLiveTail",
                "logs:StopLiveTail"
            ],
            "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"
        },
        {
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "arn:aws:iam::*:role/aws-service-role/lambda.amazonaws.com/AWSServiceRoleForLambda",
            "Condition": {
                "StringEquals": {
                    "iam:AWSServiceName": "lambda.amazonaws.com"
                }
            }
        }
    ]
}"#;

const AWS_LAMBDA_READ_ONLY_ACCESS_DOCUMENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "cloudformation:DescribeStacks",
                "cloudformation:ListStacks",
                "cloudformation:ListStackResources",
                "cloudwatch:GetMetricData",
                "cloudwatch:ListMetrics",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "kms:ListAliases",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:ListRoles",
                "logs:DescribeLogGroups",
                "lambda:Get*",
                "lambda:List*",
                "states:DescribeStateMachine",
                "states:ListStateMachines",
                "tag:GetResources",
                "xray:GetTraceSummaries",
                "xray:BatchGetTraces"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:StartQuery",
                "logs:StopQuery",
                "logs:DescribeQueries",
                "logs:GetLogGroupFields",
                "logs:GetLogRecord",
                "logs:GetQueryResults",
                "logs:StartLiveTail",
                "logs:StopLiveTail"
            ],
            "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"
        }
    ]
}"#;

const ADMINISTRATOR_ACCESS_DOCUMENT: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*"
        }
    ]
}"#;

#[cfg(test)]
mod tests {
    use super::{aws_managed, aws_managed_by_arn};
    use crate::{Policy, PolicyKind, PolicyVersion};
    use std::collections::HashSet;

    fn is_iso8601_utc(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 20
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            })
    }

    #[test]
    fn every_version_parses_as_an_identity_policy() {
        for policy in aws_managed() {
            for version in policy.versions {
                let parsed = Policy::parse(version.document, PolicyKind::Identity)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", policy.name, version.version_id));
                assert_eq!(parsed.version(), PolicyVersion::V2012_10_17);
                assert!(
                    is_iso8601_utc(version.create_date),
                    "{}",
                    version.create_date
                );
            }
        }
    }

    #[test]
    fn metadata_is_consistent() {
        let mut arns = HashSet::new();
        let mut ids = HashSet::new();
        for policy in aws_managed() {
            assert_eq!(
                policy.arn,
                format!("arn:aws:iam::aws:policy{}{}", policy.path, policy.name)
            );
            assert!(arns.insert(policy.arn), "duplicate {}", policy.arn);
            assert!(
                ids.insert(policy.policy_id),
                "duplicate {}",
                policy.policy_id
            );
            assert!(policy.policy_id.starts_with("ANPA") && policy.policy_id.len() == 21);
            assert!(policy
                .policy_id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
            assert!(is_iso8601_utc(policy.create_date) && is_iso8601_utc(policy.update_date));
            assert!(policy.create_date <= policy.update_date);
            let default = policy.default_version().expect("default version carried");
            assert_eq!(default.create_date, policy.update_date, "{}", policy.name);
            assert!(!policy.description.is_empty());
            assert!(!policy.description.contains("  "), "{}", policy.name);
            assert_eq!(aws_managed_by_arn(policy.arn), Some(policy));
        }
        let sorted: Vec<&str> = aws_managed().iter().map(|p| p.arn).collect();
        let mut expected = sorted.clone();
        expected.sort_unstable();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn lookups() {
        let vpc = aws_managed_by_arn(
            "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        )
        .expect("present");
        assert_eq!(vpc.default_version_id, "v3");
        assert_eq!(vpc.policy_id, "ANPAJVTME3YLVNL72YR2K");
        assert!(vpc.version("v1").is_none());
        assert!(
            aws_managed_by_arn("arn:aws:iam::aws:policy/AWSLambdaVPCAccessExecutionRole").is_none()
        );
        assert!(aws_managed_by_arn(
            "arn:aws:iam::aws:policy/service-role/awslambdavpcaccessexecutionrole"
        )
        .is_none());
        let basic =
            aws_managed_by_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
                .expect("present");
        assert_eq!(basic.create_date, "2015-04-09T15:03:43Z");
        for name in [
            "AWSLambdaBasicExecutionRole",
            "AWSLambdaVPCAccessExecutionRole",
            "AWSLambdaENIManagementAccess",
            "AWSLambdaRole",
            "AWSLambdaExecute",
            "AWSLambda_FullAccess",
            "AWSLambda_ReadOnlyAccess",
            "AdministratorAccess",
        ] {
            assert!(aws_managed().iter().any(|p| p.name == name), "{name}");
        }
    }
}
