#!/usr/bin/env bash
# The EC2 acceptance flow with the aws CLI: a VPC with public and private subnets in two
# AZs, an internet gateway, a NAT gateway with an Elastic IP, route tables, security groups
# that reference each other, and an ENI; every describe is checked, a few errors too, and
# everything is torn down again. Needs the daemon's endpoint in AWS_ENDPOINT_URL and its
# credentials in the environment (e2e/py/test_ec2.py runs it that way). Prints
# "ec2-cli: ok" on success.
set -euo pipefail

ec2() { aws ec2 --output text "$@"; }
fail() { echo "ec2-cli: FAIL: $*" >&2; exit 1; }
expect() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }
# Runs a call that must fail with the given error code.
expect_error() {
    local code=$1; shift
    local out
    if out=$(aws ec2 "$@" 2>&1); then fail "aws ec2 $* succeeded, expected $code"; fi
    [[ "$out" == *"($code)"* ]] || fail "aws ec2 $*: expected $code, got: $out"
}

vpc=$(ec2 create-vpc --cidr-block 10.20.0.0/16 \
    --tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=cli}]' --query Vpc.VpcId)
aws ec2 wait vpc-available --vpc-ids "$vpc"
ec2 modify-vpc-attribute --vpc-id "$vpc" --enable-dns-hostnames '{"Value":true}'
expect "$(ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsHostnames \
    --query EnableDnsHostnames.Value)" "True" "dns hostnames"

pub_a=$(ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.20.0.0/24 --availability-zone us-east-1a \
    --query Subnet.SubnetId)
pub_b=$(ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.20.1.0/24 --availability-zone us-east-1b \
    --query Subnet.SubnetId)
priv_a=$(ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.20.10.0/24 --availability-zone-id use1-az1 \
    --query Subnet.SubnetId)
priv_b=$(ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.20.11.0/24 --availability-zone-id use1-az2 \
    --query Subnet.SubnetId)
ec2 modify-subnet-attribute --subnet-id "$pub_a" --map-public-ip-on-launch
ec2 modify-subnet-attribute --subnet-id "$pub_b" --map-public-ip-on-launch
expect "$(ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc" --query 'length(Subnets)')" "4" "subnets"
expect "$(ec2 describe-subnets --subnet-ids "$priv_b" --query 'Subnets[0].AvailabilityZone')" "us-east-1b" "zone"
expect "$(ec2 describe-subnets --subnet-ids "$pub_a" --query 'Subnets[0].MapPublicIpOnLaunch')" "True" "public"

igw=$(ec2 create-internet-gateway --query InternetGateway.InternetGatewayId)
ec2 attach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$vpc"
expect "$(ec2 describe-internet-gateways --internet-gateway-ids "$igw" \
    --query 'InternetGateways[0].Attachments[0].VpcId')" "$vpc" "igw attachment"

alloc=$(ec2 allocate-address --domain vpc --query AllocationId)
nat=$(ec2 create-nat-gateway --subnet-id "$pub_a" --allocation-id "$alloc" --query NatGateway.NatGatewayId)
aws ec2 wait nat-gateway-available --nat-gateway-ids "$nat"
expect "$(ec2 describe-nat-gateways --nat-gateway-ids "$nat" \
    --query 'NatGateways[0].NatGatewayAddresses[0].AllocationId')" "$alloc" "nat eip"
expect "$(ec2 describe-subnets --subnet-ids "$pub_a" --query 'Subnets[0].AvailableIpAddressCount')" "250" "nat ip"

pub_rt=$(ec2 create-route-table --vpc-id "$vpc" --query RouteTable.RouteTableId)
ec2 create-route --route-table-id "$pub_rt" --destination-cidr-block 0.0.0.0/0 --gateway-id "$igw" >/dev/null
priv_rt=$(ec2 create-route-table --vpc-id "$vpc" --query RouteTable.RouteTableId)
ec2 create-route --route-table-id "$priv_rt" --destination-cidr-block 0.0.0.0/0 --nat-gateway-id "$nat" >/dev/null
assocs=()
for s in "$pub_a" "$pub_b"; do
    assocs+=("$(ec2 associate-route-table --route-table-id "$pub_rt" --subnet-id "$s" --query AssociationId)")
done
for s in "$priv_a" "$priv_b"; do
    assocs+=("$(ec2 associate-route-table --route-table-id "$priv_rt" --subnet-id "$s" --query AssociationId)")
done
expect "$(ec2 describe-route-tables --filters "Name=association.subnet-id,Values=$priv_b" \
    --query 'RouteTables[0].Routes[?DestinationCidrBlock==`0.0.0.0/0`].NatGatewayId | [0]')" "$nat" "private route"
expect "$(ec2 describe-route-tables --filters "Name=association.subnet-id,Values=$pub_b" \
    --query 'RouteTables[0].Routes[?DestinationCidrBlock==`0.0.0.0/0`].GatewayId | [0]')" "$igw" "public route"

web=$(ec2 create-security-group --group-name web --description "web tier" --vpc-id "$vpc" --query GroupId)
db=$(ec2 create-security-group --group-name db --description "db tier" --vpc-id "$vpc" --query GroupId)
ec2 authorize-security-group-ingress --group-id "$web" --protocol tcp --port 443 --cidr 0.0.0.0/0 >/dev/null
ec2 authorize-security-group-ingress --group-id "$db" --protocol tcp --port 5432 --source-group "$web" >/dev/null
ec2 authorize-security-group-egress --group-id "$web" \
    --ip-permissions "IpProtocol=tcp,FromPort=5432,ToPort=5432,UserIdGroupPairs=[{GroupId=$db}]" >/dev/null
expect "$(ec2 describe-security-groups --group-ids "$db" \
    --query 'SecurityGroups[0].IpPermissions[0].UserIdGroupPairs[0].GroupId')" "$web" "sg reference"
expect "$(ec2 describe-security-groups --group-ids "$web" \
    --query 'SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp')" "0.0.0.0/0" "sg cidr"
expect_error InvalidPermission.Duplicate authorize-security-group-ingress --group-id "$web" \
    --protocol tcp --port 443 --cidr 0.0.0.0/0

eni=$(ec2 create-network-interface --subnet-id "$priv_a" --groups "$web" "$db" --description "cli eni" \
    --query NetworkInterface.NetworkInterfaceId)
expect "$(ec2 describe-network-interfaces --filters 'Name=description,Values=cli*' \
    --query 'NetworkInterfaces[0].PrivateIpAddress')" "10.20.10.4" "eni address"
expect "$(ec2 describe-network-interfaces --network-interface-ids "$eni" \
    --query 'length(NetworkInterfaces[0].Groups)')" "2" "eni groups"
ec2 create-tags --resources "$eni" "$vpc" --tags Key=team,Value=net
expect "$(ec2 describe-tags --filters "Name=resource-id,Values=$eni" --query 'Tags[0].Value')" "net" "tags"

expect_error InvalidSubnet.Conflict create-subnet --vpc-id "$vpc" --cidr-block 10.20.0.128/25
expect_error InvalidSubnet.Range create-subnet --vpc-id "$vpc" --cidr-block 10.99.0.0/24
expect_error DependencyViolation delete-vpc --vpc-id "$vpc"
expect_error DependencyViolation delete-security-group --group-id "$web"
expect_error InvalidVpcID.NotFound describe-vpcs --vpc-ids vpc-0123456789abcdef0
expect_error DryRunOperation describe-vpcs --dry-run

ec2 delete-network-interface --network-interface-id "$eni"
ec2 delete-nat-gateway --nat-gateway-id "$nat" >/dev/null
aws ec2 wait nat-gateway-deleted --nat-gateway-ids "$nat"
ec2 release-address --allocation-id "$alloc"
ec2 revoke-security-group-egress --group-id "$web" \
    --ip-permissions "IpProtocol=tcp,FromPort=5432,ToPort=5432,UserIdGroupPairs=[{GroupId=$db}]" >/dev/null
ec2 delete-security-group --group-id "$db" >/dev/null
ec2 delete-security-group --group-id "$web" >/dev/null
for a in "${assocs[@]}"; do ec2 disassociate-route-table --association-id "$a"; done
ec2 delete-route-table --route-table-id "$pub_rt"
ec2 delete-route-table --route-table-id "$priv_rt"
for s in "$pub_a" "$pub_b" "$priv_a" "$priv_b"; do ec2 delete-subnet --subnet-id "$s"; done
ec2 detach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$vpc"
ec2 delete-internet-gateway --internet-gateway-id "$igw"
ec2 delete-vpc --vpc-id "$vpc"
expect_error InvalidVpcID.NotFound describe-vpcs --vpc-ids "$vpc"

echo "ec2-cli: ok"
