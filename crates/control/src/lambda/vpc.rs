//! The checks Lambda makes, synchronously, before it accepts an execution role and a
//! `VpcConfig`: the role exists and trusts `lambda.amazonaws.com`; the security groups and
//! subnets exist, share one VPC, and that VPC is not dedicated tenancy; the role may create,
//! describe and delete network interfaces. Runs inside the caller's write transaction, so
//! what it checked is what commits. Reads EC2 and IAM records only through their lookups.

use super::error::LambdaError;
use super::model::VpcConfig;
use crate::ec2::lookup as ec2;
use crate::iam::lookup::{self as iam, RoleInfo};
use crate::store::{Scope, Tx};

const LAMBDA_PRINCIPAL: &str = "lambda.amazonaws.com";

/// A `VpcConfig` as the request gave it (missing lists are empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VpcRequest {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub ipv6_allowed_for_dual_stack: bool,
}

/// The network-interface actions the execution role needs, in the order Lambda checks them.
const ENI_ACTIONS: &[&str] = &[
    "CreateNetworkInterface",
    "DescribeNetworkInterfaces",
    "DeleteNetworkInterface",
];

/// The role named by `arn`, if Lambda may assume it.
pub(crate) fn assumable_role(
    tx: &mut dyn Tx,
    scope: &Scope,
    arn: &str,
) -> Result<RoleInfo, LambdaError> {
    let refused =
        || LambdaError::invalid("The role defined for the function cannot be assumed by Lambda.");
    let role = iam::role_by_arn(tx, &scope.account, arn)?.ok_or_else(refused)?;
    if iam::trusts_service(tx, &scope.account, &role, LAMBDA_PRINCIPAL)? {
        Ok(role)
    } else {
        Err(refused())
    }
}

/// Both lists or neither: Lambda's first check, before it looks anything up.
pub(crate) fn check_pairing(req: &VpcRequest) -> Result<(), LambdaError> {
    if req.ipv6_allowed_for_dual_stack {
        return Err(LambdaError::invalid(
            "VpcConfig.Ipv6AllowedForDualStack is not supported by vpclambda: its VPCs are IPv4 only.",
        ));
    }
    if req.subnet_ids.is_empty() != req.security_group_ids.is_empty() {
        return Err(LambdaError::invalid(
            "SubnetIds and SecurityIds must coexist or be both empty list.",
        ));
    }
    Ok(())
}

/// Resolves the request to the configuration to store: its VPC id found from the subnets,
/// or the detached form for two empty lists.
pub(crate) fn resolve(
    tx: &mut dyn Tx,
    scope: &Scope,
    req: &VpcRequest,
) -> Result<VpcConfig, LambdaError> {
    check_pairing(req)?;
    if req.subnet_ids.is_empty() {
        return Ok(VpcConfig::detached());
    }
    let mut group_vpcs = Vec::with_capacity(req.security_group_ids.len());
    for id in &req.security_group_ids {
        let group = ec2::security_group(tx, scope, id)?.ok_or_else(|| {
            LambdaError::invalid(format!(
                "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. EC2 Error Message: The security group '{id}' does not exist"
            ))
        })?;
        group_vpcs.push(group.vpc_id);
    }
    let mut subnet_vpcs = Vec::with_capacity(req.subnet_ids.len());
    for id in &req.subnet_ids {
        let subnet = ec2::subnet(tx, scope, id)?.ok_or_else(|| {
            LambdaError::invalid(format!(
                "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. EC2 Error Message: The subnet ID '{id}' does not exist"
            ))
        })?;
        subnet_vpcs.push(subnet.vpc_id);
    }
    let groups_split = group_vpcs.iter().any(|v| *v != group_vpcs[0]);
    let subnets_split = subnet_vpcs.iter().any(|v| *v != subnet_vpcs[0]);
    if groups_split {
        return Err(LambdaError::invalid(
            "Security Groups are required to be in the same VPC.",
        ));
    }
    if subnets_split {
        return Err(LambdaError::invalid(
            "Subnets are required to be in the same VPC.",
        ));
    }
    let vpc_id = subnet_vpcs[0].clone();
    if group_vpcs[0] != vpc_id {
        return Err(LambdaError::invalid(
            "Security Groups are required to be in the same VPC.",
        ));
    }
    // The subnets exist, so their VPC does too; a missing one would be a broken store.
    if let Some(vpc) = ec2::vpc(tx, scope, &vpc_id)? {
        if vpc.instance_tenancy == "dedicated" {
            return Err(LambdaError::invalid(format!(
                "Lambda does not support dedicated tenancy VPCs. VPC {vpc_id} has instance tenancy 'dedicated'."
            )));
        }
    }
    Ok(VpcConfig {
        subnet_ids: req.subnet_ids.clone(),
        security_group_ids: req.security_group_ids.clone(),
        vpc_id,
        ipv6_allowed_for_dual_stack: req.ipv6_allowed_for_dual_stack,
    })
}

/// Lambda's pre-flight with the execution role: it will create, describe and delete the
/// function's network interfaces in `vpc` with these permissions.
pub(crate) fn check_eni_permissions(
    tx: &mut dyn Tx,
    scope: &Scope,
    role: &RoleInfo,
    vpc: &VpcConfig,
) -> Result<(), LambdaError> {
    if !vpc.is_attached() {
        return Ok(());
    }
    let ec2_arn =
        |resource: &str| format!("arn:aws:ec2:{}:{}:{resource}", scope.region, scope.account);
    let any_interface = ec2_arn("network-interface/*");
    for action in ENI_ACTIONS {
        let resources: Vec<String> = match *action {
            // Creating an interface touches the subnet and the groups as well.
            "CreateNetworkInterface" => vpc
                .subnet_ids
                .iter()
                .map(|s| ec2_arn(&format!("subnet/{s}")))
                .chain(
                    vpc.security_group_ids
                        .iter()
                        .map(|g| ec2_arn(&format!("security-group/{g}"))),
                )
                .chain(std::iter::once(any_interface.clone()))
                .collect(),
            // Describe calls cannot be scoped to resources.
            "DescribeNetworkInterfaces" => vec!["*".to_string()],
            _ => vec![any_interface.clone()],
        };
        for resource in &resources {
            if !iam::is_allowed(tx, &scope.account, role, &format!("ec2:{action}"), resource)? {
                return Err(LambdaError::invalid(format!(
                    "The provided execution role does not have permissions to call {action} on EC2"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_must_pair() {
        let one_sided = VpcRequest {
            subnet_ids: vec!["subnet-1".into()],
            ..Default::default()
        };
        assert_eq!(
            check_pairing(&one_sided).unwrap_err().to_string(),
            "SubnetIds and SecurityIds must coexist or be both empty list."
        );
        assert!(check_pairing(&VpcRequest::default()).is_ok());
    }
}
