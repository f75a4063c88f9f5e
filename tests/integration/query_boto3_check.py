#!/usr/bin/env python3
"""boto3 against minicloud's EC2 Query API (run by query_cli_test.cc).

argv: endpoint access_key secret image_id. Exits non-zero with a message on the first mismatch.
Each check names the bug it catches.
"""
import sys
import time

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import urllib.request
import urllib.error
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key, secret, image = sys.argv[1:5]
cfg = Config(retries={"max_attempts": 1, "mode": "standard"})


def client(k=key, s=secret):
    return boto3.client("ec2", endpoint_url=endpoint, region_name="home-1",
                        aws_access_key_id=k, aws_secret_access_key=s, config=cfg)


def expect_error(call, code, status, **kw):
    try:
        call(**kw)
    except ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        if got != (code, status):
            sys.exit(f"{call.__name__}: expected {code}/{status}, got {got}: {e}")
        return
    sys.exit(f"{call.__name__}: expected {code}, call succeeded")


ec2 = client()

# DryRun after validation: 412 DryRunOperation (bug: the call runs, or answers 400).
expect_error(ec2.run_instances, "DryRunOperation", 412, ImageId=image, MinCount=1, MaxCount=1,
             InstanceType="t3.micro", DryRun=True)
# Validation comes first even with DryRun (bug: DryRun short-circuits validation).
expect_error(ec2.run_instances, "InvalidAMIID.NotFound", 400, ImageId="ami-0123456789abcdef0",
             MinCount=1, MaxCount=1, InstanceType="t3.micro", DryRun=True)

# Run with tags, metadata options and placement; boto3 base64-encodes UserData itself.
run = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, InstanceType="t3.micro",
                        UserData="#!/bin/sh\necho hi\n",
                        MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
                        TagSpecifications=[{"ResourceType": "instance",
                                            "Tags": [{"Key": "Name", "Value": "boto"}]}])
ids = sorted(i["InstanceId"] for i in run["Instances"])
assert len(ids) == 2, run
first = run["Instances"][0]
assert first["State"] == {"Code": 0, "Name": "pending"}, first["State"]
assert first["MetadataOptions"]["HttpTokens"] == "required", first["MetadataOptions"]
assert first["MetadataOptions"]["HttpPutResponseHopLimit"] == 2, first["MetadataOptions"]
assert first["Tags"] == [{"Key": "Name", "Value": "boto"}], first.get("Tags")
assert first["Placement"]["AvailabilityZone"].startswith("home-1"), first["Placement"]
assert run["ReservationId"].startswith("r-") and run["OwnerId"], run

# Filters: instance-id and instance-type (bug: filters ignored or Filter.N.Value.M misparsed).
deadline = time.time() + 30
while True:
    resp = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": ids},
                                           {"Name": "instance-state-name",
                                            "Values": ["running"]}])
    running = sorted(i["InstanceId"] for r in resp["Reservations"] for i in r["Instances"])
    if running == ids:
        break
    if time.time() > deadline:
        sys.exit(f"instances never running: {resp}")
    time.sleep(0.3)
inst = resp["Reservations"][0]["Instances"][0]
for field in ("LaunchTime", "PrivateIpAddress", "PrivateDnsName", "SubnetId", "VpcId",
              "Architecture", "RootDeviceName", "NetworkInterfaces", "Placement"):
    assert field in inst, f"DescribeInstances lacks {field}: {inst}"
none = ec2.describe_instances(Filters=[{"Name": "instance-type", "Values": ["m5.24xlarge"]}])
assert none["Reservations"] == [], none

# User data comes back as it went in (bug: base64 decoded twice or not at all).
attr = ec2.describe_instance_attribute(InstanceId=ids[0], Attribute="userData")
import base64
assert base64.b64decode(attr["UserData"]["Value"]) == b"#!/bin/sh\necho hi\n", attr

mo = ec2.modify_instance_metadata_options(InstanceId=ids[0], HttpTokens="optional")
assert mo["InstanceMetadataOptions"]["HttpTokens"] == "optional", mo

stop = ec2.stop_instances(InstanceIds=ids[:1])
change = stop["StoppingInstances"][0]
assert change["InstanceId"] == ids[0] and change["PreviousState"]["Name"] == "running", change
assert change["CurrentState"]["Name"] == "stopping", change
term = ec2.terminate_instances(InstanceIds=ids)
assert {c["InstanceId"] for c in term["TerminatingInstances"]} == set(ids), term

# Errors: unknown instance (bug: wrong code or a 5xx), unknown key, bad signature.
expect_error(ec2.start_instances, "InvalidInstanceID.NotFound", 400,
             InstanceIds=["i-0123456789abcdef0"])
expect_error(client(k="AKIDNOSUCHKEY0000000").describe_instances, "AuthFailure", 401)
expect_error(client(s="not-the-secret").describe_instances, "SignatureDoesNotMatch", 403)

# An action we do not have, signed properly, through the raw protocol: InvalidAction.
body = "Action=LaunchRockets&Version=2016-11-15"
req = botocore.awsrequest.AWSRequest(
    method="POST", url=endpoint + "/", data=body,
    headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "ec2",
                        "home-1").add_auth(req)
prepared = req.prepare()
http_req = urllib.request.Request(prepared.url, data=body.encode(), method="POST",
                                  headers=dict(prepared.headers.items()))
try:
    urllib.request.urlopen(http_req)
    sys.exit("LaunchRockets succeeded")
except urllib.error.HTTPError as e:
    text = e.read().decode()
    assert e.code == 400 and "<Code>InvalidAction</Code>" in text, (e.code, text)
    assert "<RequestID>" in text, text
# Unsigned: refused before anything is parsed (bug: unauthenticated door).
try:
    urllib.request.urlopen(urllib.request.Request(endpoint + "/", data=body.encode()))
    sys.exit("unsigned request succeeded")
except urllib.error.HTTPError as e:
    text = e.read().decode()
    assert e.code == 401 and "MissingAuthenticationToken" in text, (e.code, text)

# Presigned (SigV4 query form; botocore signs it for the operation's method, POST, with an empty
# body): the X-Amz-* parameters are the verifier's, not unknown parameters (bug:
# UnknownParameter for X-Amz-Signature, or the query string not read on POST).
url = ec2.generate_presigned_url("describe_key_pairs", Params={}, ExpiresIn=60)
with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST")) as r:
    text = r.read().decode()
    assert r.status == 200 and "<DescribeKeyPairsResponse" in text, text

print("boto3 checks passed")
