//! The EC2 domain's errors. Each variant is one AWS error code; the wire adapter maps them to
//! AWS's codes, messages and statuses in one place. Messages here are AWS's own wording.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    #[error(transparent)]
    Store(#[from] StoreError),

    /// `Invalid<Kind>ID.NotFound` and friends: `code` is AWS's code for the resource type.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// A syntactically wrong id: `code` is e.g. `InvalidVpcID.Malformed`.
    #[error("Invalid id: \"{id}\" (expecting \"{prefix}-...\")")]
    Malformed {
        code: &'static str,
        id: String,
        prefix: &'static str,
    },
    #[error("The request must contain the parameter {0}")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    #[error("The CIDR '{0}' is invalid.")]
    VpcRange(String),
    #[error("The CIDR '{0}' is invalid.")]
    SubnetRange(String),
    #[error("The CIDR '{0}' conflicts with another subnet")]
    SubnetConflict(String),
    #[error("{0}")]
    DependencyViolation(String),
    #[error("The security group '{name}' already exists for VPC '{vpc_id}'")]
    GroupDuplicate { name: String, vpc_id: String },
    #[error("the specified group: \"{id}\" name: \"{name}\" cannot be deleted by a user")]
    CannotDelete { id: String, name: String },
    #[error("the specified rule \"{0}\" already exists")]
    PermissionDuplicate(String),
    #[error("The specified rule does not exist in this security group.")]
    PermissionNotFound,
    #[error("{0}")]
    PermissionMalformed(String),
    #[error("The specified address is already in use.")]
    AddressInUse,
    #[error("Address {0} is in use.")]
    AddressAssociated(String),
    #[error("There are not enough free addresses in subnet '{0}' to satisfy the requested number of instances.")]
    InsufficientFreeAddresses(String),
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("{0}")]
    AlreadyAssociated(String),
    /// EC2 answers 400 `AuthFailure` when a caller touches what a service manages for it
    /// (the Elastic IP of a NAT gateway, its interface).
    #[error("You do not have permission to access the specified resource.")]
    ServiceManaged,
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("{0}")]
    GatewayNotAttached(String),
    #[error("The route identified by {0} already exists.")]
    RouteAlreadyExists(String),
    #[error("{0}")]
    RouteNotFound(String),
    #[error("The client token '{0}' was already used with different request parameters.")]
    IdempotentParameterMismatch(String),
    #[error("The maximum number of Tags for a resource has been reached.")]
    TagLimitExceeded,
    #[error("The token '{0}' is invalid.")]
    InvalidNextToken(String),
    #[error("The maximum number of addresses has been reached.")]
    AddressLimitExceeded,
    #[error("The maximum number of security groups per interface has been reached.")]
    SecurityGroupsPerInterfaceLimitExceeded,
    #[error("No default VPC for this user")]
    NoDefaultVpc,
    #[error("{0}")]
    InvalidServiceName(String),
    #[error("Found another VPC endpoint subnet in the availability zone of {0}. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service.")]
    DuplicateSubnetsInSameZone(String),
    #[error("The Policy Document is not valid. {0}")]
    InvalidPolicyDocument(String),
    #[error("The ID '{0}' is not valid")]
    InvalidId(String),
}

impl Ec2Error {
    /// AWS's error code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Ec2Error::Store(_) => "InternalError",
            Ec2Error::NotFound { code, .. } | Ec2Error::Malformed { code, .. } => code,
            Ec2Error::MissingParameter(_) => "MissingParameter",
            Ec2Error::InvalidParameterValue(_) => "InvalidParameterValue",
            Ec2Error::InvalidParameter(_) => "InvalidParameter",
            Ec2Error::InvalidParameterCombination(_) => "InvalidParameterCombination",
            Ec2Error::VpcRange(_) => "InvalidVpc.Range",
            Ec2Error::SubnetRange(_) => "InvalidSubnet.Range",
            Ec2Error::SubnetConflict(_) => "InvalidSubnet.Conflict",
            Ec2Error::DependencyViolation(_) => "DependencyViolation",
            Ec2Error::GroupDuplicate { .. } => "InvalidGroup.Duplicate",
            Ec2Error::CannotDelete { .. } => "CannotDelete",
            Ec2Error::PermissionDuplicate(_) => "InvalidPermission.Duplicate",
            Ec2Error::PermissionNotFound => "InvalidPermission.NotFound",
            Ec2Error::PermissionMalformed(_) => "InvalidPermission.Malformed",
            Ec2Error::AddressInUse | Ec2Error::AddressAssociated(_) => "InvalidIPAddress.InUse",
            Ec2Error::InsufficientFreeAddresses(_) => "InsufficientFreeAddressesInSubnet",
            Ec2Error::OperationNotPermitted(_) => "OperationNotPermitted",
            Ec2Error::AlreadyAssociated(_) => "Resource.AlreadyAssociated",
            Ec2Error::ServiceManaged => "AuthFailure",
            Ec2Error::UnsupportedOperation(_) => "UnsupportedOperation",
            Ec2Error::GatewayNotAttached(_) => "Gateway.NotAttached",
            Ec2Error::RouteAlreadyExists(_) => "RouteAlreadyExists",
            Ec2Error::RouteNotFound(_) => "InvalidRoute.NotFound",
            Ec2Error::IdempotentParameterMismatch(_) => "IdempotentParameterMismatch",
            Ec2Error::InvalidNextToken(_) => "InvalidNextToken",
            Ec2Error::TagLimitExceeded => "TagLimitExceeded",
            Ec2Error::AddressLimitExceeded => "AddressLimitExceeded",
            Ec2Error::SecurityGroupsPerInterfaceLimitExceeded => {
                "SecurityGroupsPerInterfaceLimitExceeded"
            }
            Ec2Error::NoDefaultVpc => "VPCIdNotSpecified",
            Ec2Error::InvalidServiceName(_) => "InvalidServiceName",
            Ec2Error::DuplicateSubnetsInSameZone(_) => "DuplicateSubnetsInSameZone",
            Ec2Error::InvalidPolicyDocument(_) => "InvalidPolicyDocument",
            Ec2Error::InvalidId(_) => "InvalidID",
        }
    }

    pub fn invalid_value(name: &str, value: &str) -> Ec2Error {
        Ec2Error::InvalidParameterValue(format!("Value ({value}) for parameter {name} is invalid."))
    }
}
