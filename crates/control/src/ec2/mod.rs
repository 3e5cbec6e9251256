//! EC2's VPC subset as records: VPCs, subnets, security groups, network interfaces, gateways,
//! route tables, addresses, tags, and the IP allocation that ties ENIs to subnets.
