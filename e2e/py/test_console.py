"""The web console and the operators' metrics (issue 17), end to end: a real Chromium
(headless, driven by Selenium through Debian's chromedriver) signs in, reads the VPC
topology a function's ENIs are drawn in, invokes the function from its page and watches
the result and log lines arrive, impairs a zone and watches the environment move; plain
HTTP checks that sessions are scoped to their account, that actions need the session's
CSRF token and a same-origin page, and that user-controlled strings are escaped; and
`/_vpclambda/metrics`, parsed by the `prometheus_client` parser, agrees with CloudWatch's
GetMetricStatistics. Screenshots go to `e2e/artifacts/console/` (not committed)."""

import html
import json
import re
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from conftest import ROOT
from fixtures.lambda_world import BASIC, VPC_ACCESS, trust, wait_until
from functions import FUNCTIONS, zip_function

ARTIFACTS = ROOT / "e2e" / "artifacts" / "console"
CONSOLE = "/_vpclambda/console"
XSS = "<script>alert('xss')</script>"

A = ("AKIACONSOLEA", "secret-of-a", "111111111111")
B = ("AKIACONSOLEB", "secret-of-b", "222222222222")
ACCOUNTS = "".join(
    f'[[accounts]]\naccess_key_id = "{k}"\nsecret_access_key = "{s}"\naccount_id = "{a}"\n'
    for k, s, a in (A, B)
)


def clients(d, who):
    key, secret, _ = who
    return {svc: d.client(svc, key=key, secret=secret) for svc in ("ec2", "iam", "lambda", "logs")}


def role(c, name):
    arn = c["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    for p in (BASIC, VPC_ACCESS):
        c["iam"].attach_role_policy(RoleName=name, PolicyArn=p)
    return arn


def function(c, name, role_arn, kind="python", **kw):
    runtime, handler = FUNCTIONS[kind]
    c["lambda"].create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=role_arn,
                                Code={"ZipFile": zip_function(kind)}, Timeout=20, **kw)
    wait_until(lambda: c["lambda"].get_function(FunctionName=name)["Configuration"]["State"] == "Active",
               timeout=60)


def network(c, n):
    """A VPC 10.<n>.0.0/16 with subnets in us-east-1a and us-east-1b and one group."""
    ec2 = c["ec2"]
    vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.{i + 1}.0/24", AvailabilityZone=z)
               ["Subnet"]["SubnetId"] for i, z in enumerate(("us-east-1a", "us-east-1b"))]
    sg = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    return vpc, subnets, sg


class Browser:
    """Headless Chromium through chromedriver, with a fresh profile; screenshots as test
    artifacts."""

    def __init__(self, tmp):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1500,1100", f"--user-data-dir={tmp}"):
            opts.add_argument(arg)
        service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_page_load_timeout(30)

    def css(self, selector):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector):
        found = self.css(selector)
        assert found, f"nothing matches {selector}"
        return found[0]

    def wait(self, check, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except Exception:  # an element replaced by a live update while read
                pass
            time.sleep(0.2)
        self.shot(f"timeout-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:40]}")
        raise AssertionError(f"never: {what}")

    def shot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))

    def close(self):
        self.driver.quit()


@pytest.fixture
def browser():
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("needs Debian's chromium and chromium-driver (./scripts/deps test)")
    tmp = tempfile.mkdtemp(prefix="vl-chromium-")
    b = Browser(tmp)
    yield b
    b.close()
    shutil.rmtree(tmp, ignore_errors=True)


def test_browser_signs_in_draws_the_enis_invokes_and_follows_an_az_drill(privileged, make_daemon, browser):
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), "--eni-mode", "hyperplane",
                    config=ACCOUNTS).start()
    a = clients(d, A)
    vpc, subnets, sg = network(a, 40)
    function(a, "console-fn", role(a, "console-role"),
             VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": [sg]})
    enis = a["ec2"].describe_network_interfaces(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkInterfaces"]
    assert len(enis) == 2, enis
    ips = {e["NetworkInterfaceId"]: e["PrivateIpAddress"] for e in enis}
    zone_of_eni = {e["NetworkInterfaceId"]: e["AvailabilityZone"] for e in enis}

    b, drv = browser, browser.driver
    drv.get(d.endpoint + CONSOLE + "/")
    assert drv.current_url.endswith("/signin"), "no default key: the console asks to sign in"
    b.one("#access_key_id").send_keys(A[0])
    b.one("#secret_access_key").send_keys(A[1])
    b.one("#signin-button").click()
    b.wait(lambda: drv.current_url.endswith("/topology"), "signed in, on the topology page")
    assert A[2] in b.one(".who").text

    # The VPC with its two subnets, and the function's two ENIs with their addresses.
    drv.get(d.endpoint + CONSOLE + "/topology?function=console-fn")
    svg = f'svg.topology[aria-labelledby="t-{vpc}"]'
    for s in subnets:
        assert b.css(f'{svg} g.subnet[data-id="{s}"]'), s
    for eni, ip in ips.items():
        drawn = b.one(f'{svg} g.eni[data-id="{eni}"]')
        assert drawn.get_attribute("data-ip") == ip
        assert ip in drawn.text and "console-fn" in drawn.text
        assert "selected" in drawn.get_attribute("class"), "the selected function's ENIs stand out"
    assert "Where console-fn's traffic may go" in drv.page_source
    b.shot("topology")

    # Invoke from the form: the result and the function's log lines arrive in place.
    drv.get(d.endpoint + CONSOLE + "/functions/console-fn")
    drv.execute_script("window.__stayed = 'yes'")
    payload = b.one("#payload")
    payload.clear()
    payload.send_keys(json.dumps({"log": "hello from the console"}))
    b.one("#invoke-button").click()
    b.wait(lambda: "Succeeded" in b.one("#invoke-result").text, "the invocation's result")
    assert '"logged": "hello from the console"' in b.one("#invoke-result pre").text
    b.wait(lambda: "hello from the console" in b.one("#log").text, "the function's log line")
    b.wait(lambda: "REPORT RequestId" in b.one("#log").text, "the REPORT line")
    b.wait(lambda: b.css("#live td .zone"), "the environment listed with its zone")
    assert drv.execute_script("return window.__stayed") == "yes", "no page load: it all came live"
    b.shot("function-invoked")
    first_zone = b.one("#live td .zone").text
    assert first_zone in zone_of_eni.values()
    other_zone = ({"us-east-1a", "us-east-1b"} - {first_zone}).pop()

    # The AZ drill: impair the environment's zone; it is drained, and the next one starts
    # in the other zone.
    drv.get(d.endpoint + CONSOLE + "/zones")
    b.one(f'button[data-zone="{first_zone}"][data-action="impair"]').click()
    b.wait(lambda: b.css(f'button[data-zone="{first_zone}"][data-action="restore"]'),
           "the zone shown impaired")
    assert "impaired" in b.one("#live").text
    b.shot("zone-impaired")
    drv.get(d.endpoint + CONSOLE + "/functions/console-fn")
    b.wait(lambda: not b.css("#live td .zone"), "the environment in the impaired zone is gone")
    b.one("#invoke-button").click()
    b.wait(lambda: "Succeeded" in b.one("#invoke-result").text, "the second invocation's result")
    b.wait(lambda: [z.text for z in b.css("#live td .zone")] == [other_zone],
           "the new environment in the other zone")
    b.shot("environment-moved")
    drv.get(d.endpoint + CONSOLE + "/zones")
    b.one(f'button[data-zone="{first_zone}"][data-action="restore"]').click()
    b.wait(lambda: b.css(f'button[data-zone="{first_zone}"][data-action="impair"]'), "restored")

    # The picture shows the environment on the ENI of the other zone.
    drv.get(d.endpoint + CONSOLE + "/topology?function=console-fn")
    other_eni = next(e for e, z in zone_of_eni.items() if z == other_zone)
    b.wait(lambda: b.css(f'g.eni[data-id="{other_eni}"] circle.env'), "the environment drawn on its ENI")
    b.shot("topology-environment")

    # Without JavaScript the form still invokes: the answer is a page with the result.
    cookies = {c["name"]: c["value"] for c in drv.get_cookies()}
    page = requests.get(d.endpoint + CONSOLE + "/functions/console-fn", cookies=cookies, timeout=10)
    r = requests.post(d.endpoint + CONSOLE + "/functions/console-fn/invoke", cookies=cookies, timeout=60,
                      data={"csrf": csrf_of(page.text), "payload": '{"plain": "form"}'})
    assert r.status_code == 200 and "Succeeded" in r.text and "&quot;plain&quot;" in r.text

    # The capacity page shows eni-plan's figures for the function.
    drv.get(d.endpoint + CONSOLE + "/capacity?peak=20")
    plan = b.one("section.plan").text
    assert "console-fn" in plan and "hyperplane" in plan and "ENIs needed 2" in plan

    # Keyboard: the first Tab reaches the skip link, which leads to the content.
    from selenium.webdriver.common.keys import Keys
    drv.get(d.endpoint + CONSOLE + "/functions")
    b.one("body").send_keys(Keys.TAB)
    assert drv.switch_to.active_element.get_attribute("class") == "skip"
    drv.switch_to.active_element.send_keys(Keys.ENTER)
    assert drv.switch_to.active_element.get_attribute("id") == "main"


def test_topology_draws_gateways_and_the_way_out(privileged, make_daemon, browser):
    """Private subnets routed to a NAT gateway in a public subnet routed to an internet
    gateway: the picture has the gateway, the NAT gateway's ENI and the routes, and the
    selected function's way out goes through both."""
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes"), "--eni-mode", "hyperplane").start()
    c = clients(d, ("test", "test", "000000000000"))
    ec2 = c["ec2"]
    vpc, subnets, sg = network(c, 44)
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": "shop"}])
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.44.3.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    wait_until(lambda: ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"]
               == "available", timeout=60)
    private_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=private_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    for s in subnets:
        ec2.associate_route_table(RouteTableId=private_rt, SubnetId=s)
    function(c, "checkout", role(c, "checkout-role"),
             VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": [sg]})
    c["lambda"].invoke(FunctionName="checkout", Payload=b"{}")
    nat_eni = ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [public]}])["NetworkInterfaces"][0]

    b, drv = browser, browser.driver
    drv.get(d.endpoint + CONSOLE + "/topology?function=checkout")
    assert b.css(f'g.igw[data-id="{igw}"]'), "the internet gateway is drawn"
    drawn = b.one(f'g.subnet[data-id="{public}"] ~ g.eni[data-id="{nat_eni["NetworkInterfaceId"]}"]')
    assert drawn.get_attribute("data-ip") == nat_eni["PrivateIpAddress"] and "nat_gateway" in drawn.text
    routes = " ".join(t.text for t in b.css("svg.topology text.route"))
    assert f"0.0.0.0/0 → {nat}" in routes and f"0.0.0.0/0 → {igw}" in routes
    way_out = b.one("#paths").find_element("xpath", "..").text
    assert f"0.0.0.0/0 via {nat} → {igw}" in way_out
    b.wait(lambda: b.css("circle.env"), "the environment drawn on its ENI")
    b.shot("topology-nat")


def signed_in(d, who):
    """A requests session signed in to the console as `who`."""
    s = requests.Session()
    form = s.get(d.endpoint + CONSOLE + "/signin", timeout=10)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text).group(1)
    r = s.post(d.endpoint + CONSOLE + "/signin", timeout=10, allow_redirects=False,
               data={"csrf": token, "access_key_id": who[0], "secret_access_key": who[1]})
    assert r.status_code == 303, r.text
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return s


def csrf_of(page):
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def test_sessions_see_their_account_only_actions_need_the_token_and_strings_are_escaped(make_daemon):
    d = make_daemon(config=ACCOUNTS).start()
    a, bee = clients(d, A), clients(d, B)
    vpc_a, _, _ = network(a, 41)
    a["ec2"].create_tags(Resources=[vpc_a], Tags=[{"Key": "Name", "Value": XSS}])
    function(a, "fn-a", role(a, "ra"), kind="shell", Tags={"note": XSS})
    group = "/aws/lambda/fn-a"
    a["logs"].create_log_group(logGroupName=group)
    a["logs"].create_log_stream(logGroupName=group, logStreamName="s")
    a["logs"].put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": f"line with {XSS}"}])
    vpc_b, subnets_b, _ = network(bee, 42)
    function(bee, "fn-b", role(bee, "rb"), kind="shell")

    # Wrong secrets do not sign in.
    s = requests.Session()
    token = csrf_of(s.get(d.endpoint + CONSOLE + "/signin", timeout=10).text)
    r = s.post(d.endpoint + CONSOLE + "/signin", timeout=10, allow_redirects=False,
               data={"csrf": token, "access_key_id": A[0], "secret_access_key": B[1]})
    assert r.status_code == 401
    assert requests.get(d.endpoint + CONSOLE + "/topology", timeout=10,
                        allow_redirects=False).status_code == 303, "no session: to the sign-in form"

    sa, sb = signed_in(d, A), signed_in(d, B)
    seen_by_a = "".join(sa.get(d.endpoint + CONSOLE + p, timeout=10).text
                        for p in ("/topology", "/functions", "/capacity", "/zones"))
    assert vpc_a in seen_by_a and "fn-a" in seen_by_a
    for theirs in (vpc_b, *subnets_b, "fn-b", B[2]):
        assert theirs not in seen_by_a, theirs
    assert sa.get(d.endpoint + CONSOLE + "/functions/fn-b", timeout=10).status_code == 404
    assert "fn-a" not in sb.get(d.endpoint + CONSOLE + "/functions", timeout=10).text
    assert sb.get(d.endpoint + CONSOLE + "/functions/fn-a", timeout=10).status_code == 404

    # Every user-controlled string escaped: a VPC's tag, a function's tag, a log line.
    for page in (sa.get(d.endpoint + CONSOLE + "/topology", timeout=10).text,
                 sa.get(d.endpoint + CONSOLE + "/functions/fn-a", timeout=10).text):
        assert "<script>alert" not in page
        assert html.escape(XSS, quote=True).replace("&#x27;", "&#39;") in page
    assert "line with &lt;script&gt;" in sa.get(d.endpoint + CONSOLE + "/functions/fn-a", timeout=10).text

    # Actions: refused without the session's token, with another session's, or from
    # another site even with the right one.
    page = sa.get(d.endpoint + CONSOLE + "/functions/fn-a", timeout=10).text
    good = csrf_of(page)
    invoke = d.endpoint + CONSOLE + "/functions/fn-a/invoke"
    assert sa.post(invoke, data={"payload": "{}"}, timeout=10).status_code == 403
    assert sa.post(invoke, data={"payload": "{}", "csrf": csrf_of(
        sb.get(d.endpoint + CONSOLE + "/functions", timeout=10).text)}, timeout=10).status_code == 403
    cross = sa.post(invoke, data={"payload": "{}", "csrf": good}, timeout=10,
                    headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    zone = d.endpoint + CONSOLE + "/zones/us-east-1a"
    assert sa.post(zone, data={"action": "impair"}, timeout=10).status_code == 403
    assert requests.post(zone, data={"action": "impair", "csrf": good}, timeout=10).status_code == 403
    assert 'data-action="restore"' not in sa.get(d.endpoint + CONSOLE + "/zones", timeout=10).text
    # Another account's function cannot be invoked through the console either.
    r = sa.post(d.endpoint + CONSOLE + "/functions/fn-b/invoke", data={"payload": "{}", "csrf": good},
                headers={"Accept": "application/json"}, timeout=10)
    assert r.json()["error_code"] == "ResourceNotFoundException"

    # Security headers: no inline script can run even if something slipped through.
    h = sa.get(d.endpoint + CONSOLE + "/topology", timeout=10).headers
    assert "script-src 'self'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY"


def scrape(d):
    r = requests.get(d.endpoint + "/_vpclambda/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/openmetrics-text")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    want = tuple(sorted(labels.items()))
    return sum(v for (n, ls), v in samples.items() if n == name and set(want) <= set(ls))


def test_metrics_agree_with_cloudwatch(privileged, make_daemon):
    d = make_daemon("--runtimes-dir", str(ROOT / "runtimes")).start()
    lam, cw = d.client("lambda"), d.client("cloudwatch")
    iam = d.client("iam")
    arn = iam.create_role(RoleName="m", AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    iam.attach_role_policy(RoleName="m", PolicyArn=BASIC)
    runtime, handler = FUNCTIONS["python"]
    lam.create_function(FunctionName="metered", Runtime=runtime, Handler=handler, Role=arn,
                        Code={"ZipFile": zip_function("python")}, Timeout=20)
    wait_until(lambda: lam.get_function(FunctionName="metered")["Configuration"]["State"] == "Active")
    for event in ({"n": 1}, {"n": 2}, {"error": "boom"}, {"sleep": 0.2}, {"n": 5}):
        lam.invoke(FunctionName="metered", Payload=json.dumps(event))

    def cloudwatch(metric, stat):
        now = datetime.now(timezone.utc)
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Statistics=[stat], Period=3600,
            StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5),
            Dimensions=[{"Name": "FunctionName", "Value": "metered"}])["Datapoints"]
        return sum(p[stat] for p in points)

    lam.put_function_concurrency(FunctionName="metered", ReservedConcurrentExecutions=0)
    for _ in range(2):
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            lam.invoke(FunctionName="metered", Payload=b"{}")
    wait_until(lambda: cloudwatch("Invocations", "Sum") == 5, timeout=30)
    # boto3 retries a 429 once: each refused call is two throttled attempts.
    wait_until(lambda: cloudwatch("Throttles", "Sum") == 4, timeout=30)
    m = scrape(d)
    fn = {"account": "000000000000", "region": "us-east-1", "function": "metered"}
    assert value(m, "vpclambda_lambda_invocations_total", **fn) == cloudwatch("Invocations", "Sum") == 5
    assert value(m, "vpclambda_lambda_errors_total", **fn) == cloudwatch("Errors", "Sum") == 1
    assert value(m, "vpclambda_lambda_throttles_total", **fn) == cloudwatch("Throttles", "Sum") == 4
    assert value(m, "vpclambda_lambda_duration_seconds_count", **fn) == cloudwatch("Duration", "SampleCount")
    assert value(m, "vpclambda_lambda_duration_seconds_sum", **fn) * 1000 == pytest.approx(
        cloudwatch("Duration", "Sum"), rel=1e-6)
    assert value(m, "vpclambda_lambda_cold_starts_total", **fn) >= 1
    assert value(m, "vpclambda_lambda_init_duration_seconds_count", **fn) >= 1
    assert value(m, "vpclambda_lambda_environments", **fn) >= 1
    assert value(m, "vpclambda_api_requests_total", service="lambda", operation="Invoke", status="200") == 5
    assert value(m, "vpclambda_api_requests_total", service="lambda", operation="Invoke", status="429") == 4
    assert value(m, "vpclambda_api_request_duration_seconds_count", service="lambda", operation="Invoke") == 9
    assert value(m, "vpclambda_store_commit_duration_seconds_count") > 0

    # Subnets: free and used addresses and ENIs, as EC2 reports them.
    ec2 = d.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.43.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    ec2.create_network_interface(SubnetId=subnet["SubnetId"])
    free = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]["AvailableIpAddressCount"]
    m = scrape(d)
    assert value(m, "vpclambda_subnet_free_ips", subnet=subnet["SubnetId"]) == free == 250
    assert value(m, "vpclambda_subnet_used_ips", subnet=subnet["SubnetId"]) == 1
    assert value(m, "vpclambda_subnet_network_interfaces", subnet=subnet["SubnetId"]) == 1
    wait_until(lambda: value(scrape(d), "vpclambda_dataplane_apply_duration_seconds_count") >= 1)


def test_default_key_on_loopback_skips_sign_in(daemon):
    r = requests.get(daemon.endpoint + CONSOLE + "/topology", timeout=10, allow_redirects=False)
    assert r.status_code == 200 and "000000000000" in r.text
    # A name that is not loopback (DNS rebinding) gets no implicit session.
    r = requests.get(daemon.endpoint + CONSOLE + "/topology", timeout=10, allow_redirects=False,
                     headers={"Host": "rebind.example:4566"})
    assert r.status_code == 303
    live = requests.get(daemon.endpoint + CONSOLE + "/topology/live", timeout=10, stream=True)
    assert live.headers["Content-Type"].startswith("text/event-stream")
    # An open live stream does not hold up a graceful stop.
    started = time.monotonic()
    assert daemon.stop(timeout=15) == 0
    assert time.monotonic() - started < 10
    live.close()
