"""VPC endpoints and prefix lists, EC2 API half (issue 18): gateway endpoints as prefix-list
routes, interface endpoints as requester-managed ENIs, their validation and errors, endpoint
services and AWS-managed prefix lists, driven by boto3 and the aws CLI against the real
daemon. The dataplane side (listeners, DNS, policies) is tested elsewhere."""

import json

import pytest
from botocore.exceptions import ClientError

S3 = "com.amazonaws.us-east-1.s3"
STS = "com.amazonaws.us-east-1.sts"
S3_PL = "pl-63a5400a"


def err(call, *args, **kw):
    """The ClientError a call raises, as (code, message, status)."""
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def network(ec2):
    """A VPC with subnets in us-east-1a (two) and us-east-1b, a route table, a group."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    sub = lambda cidr, az: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
    a, b, a2 = sub("10.20.1.0/24", "us-east-1a"), sub("10.20.2.0/24", "us-east-1b"), sub("10.20.3.0/24", "us-east-1a")
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    sg = ec2.create_security_group(GroupName="vpce", Description="vpce", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "a": a, "b": b, "a2": a2, "rt": rt, "sg": sg}


def endpoint_routes(ec2, rt):
    table = ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]
    return [r for r in table["Routes"] if "DestinationPrefixListId" in r]


def snapshot(ec2, vpc):
    """What a refused call must not change."""
    by_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    return (
        ec2.describe_vpc_endpoints(Filters=by_vpc)["VpcEndpoints"],
        ec2.describe_network_interfaces(Filters=by_vpc)["NetworkInterfaces"],
        ec2.describe_route_tables(Filters=by_vpc)["RouteTables"],
    )


def test_gateway_endpoint_routes_to_the_prefix_list(daemon):
    ec2 = daemon.client("ec2")
    n = network(ec2)
    e = ec2.create_vpc_endpoint(VpcId=n["vpc"], ServiceName=S3, RouteTableIds=[n["rt"]],
                                TagSpecifications=[{"ResourceType": "vpc-endpoint",
                                                    "Tags": [{"Key": "Name", "Value": "s3"}]}])["VpcEndpoint"]
    assert e["VpcEndpointId"].startswith("vpce-")
    assert (e["VpcEndpointType"], e["State"], e["RouteTableIds"]) == ("Gateway", "pending", [n["rt"]])
    assert json.loads(e["PolicyDocument"])["Statement"][0]["Principal"] == "*"
    assert e["Tags"] == [{"Key": "Name", "Value": "s3"}]
    routes = endpoint_routes(ec2, n["rt"])
    assert routes == [{"DestinationPrefixListId": S3_PL, "GatewayId": e["VpcEndpointId"],
                       "State": "active", "Origin": "CreateRoute"}]
    # The CLI sees the same route.
    out = daemon.aws("ec2", "describe-route-tables", "--route-table-ids", n["rt"])
    assert any(r.get("DestinationPrefixListId") == S3_PL and r.get("GatewayId") == e["VpcEndpointId"]
               for r in out["RouteTables"][0]["Routes"])
    # A second endpoint route for the same prefix list in the table is refused.
    code, _, status = err(ec2.create_vpc_endpoint, VpcId=n["vpc"], ServiceName=S3, RouteTableIds=[n["rt"]])
    assert (code, status) == ("RouteAlreadyExists", 400)
    # The route is the endpoint's to manage.
    code, msg, _ = err(ec2.delete_route, RouteTableId=n["rt"], DestinationPrefixListId=S3_PL)
    assert code == "InvalidParameterValue" and e["VpcEndpointId"] in msg
    # The VPC cannot go while the endpoint exists.
    assert err(ec2.delete_vpc, VpcId=n["vpc"])[0] == "DependencyViolation"


def test_interface_endpoint_makes_requester_managed_enis(daemon):
    ec2 = daemon.client("ec2")
    n = network(ec2)
    e = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=n["vpc"], ServiceName=STS,
                                SubnetIds=[n["a"], n["b"]], SecurityGroupIds=[n["sg"]],
                                PrivateDnsEnabled=False)["VpcEndpoint"]
    assert e["SubnetIds"] == [n["a"], n["b"]]
    assert e["Groups"] == [{"GroupId": n["sg"], "GroupName": "vpce"}]
    assert (e["PrivateDnsEnabled"], e["RequesterManaged"], e["IpAddressType"]) == (False, False, "ipv4")
    assert e["DnsOptions"] == {"DnsRecordIpType": "ipv4"}
    names = [d["DnsName"] for d in e["DnsEntries"]]
    assert len(names) == 3 and names[0].startswith(e["VpcEndpointId"] + "-")
    assert names[0].endswith(".sts.us-east-1.vpce.amazonaws.com")
    assert "-us-east-1a.sts.us-east-1.vpce.amazonaws.com" in names[1]
    assert len(e["NetworkInterfaceIds"]) == 2
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=e["NetworkInterfaceIds"])["NetworkInterfaces"]
    for eni in enis:
        assert eni["InterfaceType"] == "vpc_endpoint"
        assert eni["RequesterManaged"] is True
        assert eni["Description"] == f"VPC Endpoint Interface {e['VpcEndpointId']}"
        assert [g["GroupId"] for g in eni["Groups"]] == [n["sg"]]
    assert sorted(x["SubnetId"] for x in enis) == sorted([n["a"], n["b"]])
    out = daemon.aws("ec2", "describe-network-interfaces", "--filters",
                     "Name=interface-type,Values=vpc_endpoint")
    assert sorted(x["NetworkInterfaceId"] for x in out["NetworkInterfaces"]) == sorted(e["NetworkInterfaceIds"])


def test_private_dns_needs_the_vpc_attributes(daemon):
    ec2 = daemon.client("ec2")
    n = network(ec2)
    before = snapshot(ec2, n["vpc"])
    code, msg, status = err(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=n["vpc"],
                            ServiceName=STS, SubnetIds=[n["a"]])
    assert (code, status) == ("InvalidParameter", 400)
    assert msg == ("Enabling private DNS requires both enableDnsSupport and enableDnsHostnames "
                   f"VPC attributes set to true for {n['vpc']}")
    assert snapshot(ec2, n["vpc"]) == before
    ec2.modify_vpc_attribute(VpcId=n["vpc"], EnableDnsHostnames={"Value": True})
    e = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=n["vpc"], ServiceName=STS,
                                SubnetIds=[n["a"]])["VpcEndpoint"]
    assert e["PrivateDnsEnabled"] is True
    assert e["DnsEntries"][-1]["DnsName"] == "sts.us-east-1.amazonaws.com"
    # Without groups, the VPC's default group.
    assert e["Groups"][0]["GroupName"] == "default"


def test_refusals_are_aws_shaped_and_change_nothing(daemon):
    ec2 = daemon.client("ec2")
    n = network(ec2)
    before = snapshot(ec2, n["vpc"])
    code, msg, _ = err(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=n["vpc"], ServiceName=STS,
                       SubnetIds=[n["a"], n["a2"]], PrivateDnsEnabled=False)
    assert code == "DuplicateSubnetsInSameZone"
    assert msg.startswith(f"Found another VPC endpoint subnet in the availability zone of {n['a2']}.")
    code, msg, _ = err(ec2.create_vpc_endpoint, VpcId=n["vpc"], ServiceName="com.amazonaws.us-east-1.dynamodb",
                       RouteTableIds=[n["rt"]])
    assert code == "InvalidServiceName" and "vpclambda does not serve DynamoDB" in msg
    code, msg, _ = err(ec2.create_vpc_endpoint, VpcId=n["vpc"], ServiceName="com.amazonaws.us-east-1.nope")
    assert (code, msg) == ("InvalidServiceName",
                           "The Vpc Endpoint Service 'com.amazonaws.us-east-1.nope' does not exist")
    code, msg, _ = err(ec2.create_vpc_endpoint, VpcId=n["vpc"], ServiceName=S3, SubnetIds=[n["a"]])
    assert code == "InvalidParameter" and msg.startswith("Subnet IDs are only supported")
    code, msg, _ = err(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=n["vpc"], ServiceName=STS,
                       RouteTableIds=[n["rt"]])
    assert (code, msg) == ("InvalidParameter", "Route table IDs are only supported for Gateway type VPC Endpoint.")
    code, _, _ = err(ec2.create_vpc_endpoint, VpcId=n["vpc"], ServiceName=S3, RouteTableIds=[n["rt"]],
                     PolicyDocument="{not json")
    assert code == "InvalidPolicyDocument"
    code, _, _ = err(ec2.create_vpc_endpoint, VpcId="vpc-0123456789abcdef0", ServiceName=S3)
    assert code == "InvalidVpcID.NotFound"
    code, msg, _ = err(ec2.describe_vpc_endpoints, VpcEndpointIds=["vpce-0123456789abcdef0"])
    assert (code, msg) == ("InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id 'vpce-0123456789abcdef0' does not exist")
    assert err(ec2.describe_vpc_endpoints, VpcEndpointIds=["bogus"])[0] == "InvalidVpcEndpointId.Malformed"
    code, _, status = err(ec2.create_vpc_endpoint, VpcId=n["vpc"], ServiceName=S3, DryRun=True)
    assert (code, status) == ("DryRunOperation", 412)
    assert snapshot(ec2, n["vpc"]) == before


def test_modify_and_delete(daemon):
    ec2 = daemon.client("ec2")
    n = network(ec2)
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [n["vpc"]]},
                                                       {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"][0]["GroupId"]
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [n["vpc"]]},
                                              {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]
    gw = ec2.create_vpc_endpoint(VpcId=n["vpc"], ServiceName=S3, RouteTableIds=[n["rt"]])["VpcEndpoint"]
    gw_id = gw["VpcEndpointId"]
    assert ec2.modify_vpc_endpoint(VpcEndpointId=gw_id, AddRouteTableIds=[main["RouteTableId"]],
                                   RemoveRouteTableIds=[n["rt"]])["Return"] is True
    assert endpoint_routes(ec2, n["rt"]) == []
    assert endpoint_routes(ec2, main["RouteTableId"])[0]["GatewayId"] == gw_id
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}]})
    ec2.modify_vpc_endpoint(VpcEndpointId=gw_id, PolicyDocument=deny)
    got = ec2.describe_vpc_endpoints(VpcEndpointIds=[gw_id])["VpcEndpoints"][0]
    assert json.loads(got["PolicyDocument"]) == json.loads(deny)
    assert got["RouteTableIds"] == [main["RouteTableId"]]

    ie = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=n["vpc"], ServiceName=STS,
                                 SubnetIds=[n["a"]], SecurityGroupIds=[n["sg"]],
                                 PrivateDnsEnabled=False)["VpcEndpoint"]
    ie_id, first_eni = ie["VpcEndpointId"], ie["NetworkInterfaceIds"][0]
    assert err(ec2.modify_vpc_endpoint, VpcEndpointId=ie_id, AddSubnetIds=[n["a2"]])[0] == "DuplicateSubnetsInSameZone"
    daemon.aws("ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", ie_id, "--add-subnet-ids", n["b"], n["a2"],
               "--remove-subnet-ids", n["a"], "--add-security-group-ids", default_sg,
               "--remove-security-group-ids", n["sg"])
    got = ec2.describe_vpc_endpoints(VpcEndpointIds=[ie_id])["VpcEndpoints"][0]
    assert got["SubnetIds"] == [n["b"], n["a2"]]
    assert [g["GroupId"] for g in got["Groups"]] == [default_sg]
    assert err(ec2.describe_network_interfaces, NetworkInterfaceIds=[first_eni])[0] == "InvalidNetworkInterfaceID.NotFound"
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=got["NetworkInterfaceIds"])["NetworkInterfaces"]
    assert all([g["GroupId"] for g in x["Groups"]] == [default_sg] for x in enis)

    # Filters.
    by = lambda name, *values: [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(
        Filters=[{"Name": name, "Values": list(values)}])["VpcEndpoints"]]
    assert by("service-name", S3) == [gw_id]
    assert by("vpc-endpoint-type", "Interface") == [ie_id]
    assert sorted(by("vpc-id", n["vpc"])) == sorted([gw_id, ie_id])
    assert len(by("vpc-endpoint-state", "pending", "available")) == 2
    assert by("vpc-endpoint-id", ie_id) == [ie_id]

    out = ec2.delete_vpc_endpoints(VpcEndpointIds=[gw_id, ie_id, "vpce-0123456789abcdef0"])
    assert out["Unsuccessful"] == [{"Error": {"Code": "InvalidVpcEndpoint.NotFound",
                                              "Message": "The Vpc Endpoint Id 'vpce-0123456789abcdef0' does not exist"},
                                    "ResourceId": "vpce-0123456789abcdef0"}]
    assert endpoint_routes(ec2, main["RouteTableId"]) == []
    assert ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [n["vpc"]]}])["NetworkInterfaces"] == []
    # Deleted endpoints are shown `deleted` for a while, as on EC2, and are gone otherwise.
    shown = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    assert sorted(e["VpcEndpointId"] for e in shown) == sorted([gw_id, ie_id])
    assert {e["State"] for e in shown} == {"deleted"}
    with pytest.raises(ClientError) as gone:
        ec2.modify_vpc_endpoint(VpcEndpointId=gw_id, ResetPolicy=True)
    assert gone.value.response["Error"]["Code"] == "InvalidVpcEndpointId.NotFound"
    again = ec2.delete_vpc_endpoints(VpcEndpointIds=[gw_id])["Unsuccessful"]
    assert again[0]["Error"]["Code"] == "InvalidVpcEndpoint.NotFound"


def test_endpoint_services_and_prefix_lists(daemon):
    ec2 = daemon.client("ec2")
    out = ec2.describe_vpc_endpoint_services()
    assert out["ServiceNames"] == [f"com.amazonaws.us-east-1.{s}"
                                   for s in ("ec2", "lambda", "logs", "monitoring", "s3", "sts")]
    s3 = next(d for d in out["ServiceDetails"] if d["ServiceName"] == S3)
    assert sorted(t["ServiceType"] for t in s3["ServiceType"]) == ["Gateway", "Interface"]
    assert s3["AvailabilityZones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert s3["BaseEndpointDnsNames"] == ["s3.us-east-1.vpce.amazonaws.com"]
    assert (s3["Owner"], s3["VpcEndpointPolicySupported"], s3["AcceptanceRequired"],
            s3["ManagesVpcEndpoints"]) == ("amazon", True, False, False)
    assert s3["SupportedIpAddressTypes"] == ["ipv4"]
    gateways = ec2.describe_vpc_endpoint_services(
        Filters=[{"Name": "service-type", "Values": ["Gateway"]}])["ServiceNames"]
    assert gateways == [S3]
    assert ec2.describe_vpc_endpoint_services(ServiceNames=[STS])["ServiceDetails"][0]["PrivateDnsName"] \
        == "sts.us-east-1.amazonaws.com"
    assert err(ec2.describe_vpc_endpoint_services, ServiceNames=["com.amazonaws.us-east-1.nope"])[0] \
        == "InvalidServiceName"

    pls = ec2.describe_prefix_lists()["PrefixLists"]
    assert pls == [{"PrefixListId": S3_PL, "PrefixListName": S3, "Cidrs": ["203.0.113.101/32"]}]
    assert err(ec2.describe_prefix_lists, PrefixListIds=["pl-0badbad0"])[0] == "InvalidPrefixListID.NotFound"
    managed = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [S3]}])["PrefixLists"]
    assert managed[0]["PrefixListId"] == S3_PL
    assert (managed[0]["OwnerId"], managed[0]["AddressFamily"], managed[0]["State"], managed[0]["Version"]) \
        == ("AWS", "IPv4", "create-complete", 1)
    assert managed[0]["PrefixListArn"] == f"arn:aws:ec2:us-east-1:aws:prefix-list/{S3_PL}"
    out = daemon.aws("ec2", "get-managed-prefix-list-entries", "--prefix-list-id", S3_PL)
    assert out["Entries"] == [{"Cidr": "203.0.113.101/32"}]
    out = daemon.aws("ec2", "describe-prefix-lists")
    assert out["PrefixLists"][0]["PrefixListId"] == S3_PL


def test_security_group_egress_to_the_prefix_list(daemon):
    ec2 = daemon.client("ec2")
    n = network(ec2)
    perm = lambda pl: [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "PrefixListIds": [{"PrefixListId": pl, "Description": "s3"}]}]
    code, _, _ = err(ec2.authorize_security_group_egress, GroupId=n["sg"], IpPermissions=perm("pl-0badbad0"))
    assert code == "InvalidPrefixListID.NotFound"
    ec2.authorize_security_group_egress(GroupId=n["sg"], IpPermissions=perm(S3_PL))
    g = ec2.describe_security_groups(GroupIds=[n["sg"]])["SecurityGroups"][0]
    rule = next(p for p in g["IpPermissionsEgress"] if p["PrefixListIds"])
    assert rule["PrefixListIds"] == [{"PrefixListId": S3_PL, "Description": "s3"}]
