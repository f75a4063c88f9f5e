#!/usr/bin/env python3
"""EC2 Query API conformance: the real aws CLI v1 (PATH), aws CLI v2 (/usr/bin/aws) and boto3
against one in-process cloud (query_cloud: real services, RocksDB, SigV4 over a real access key,
agents on fake hypervisors), on loopback. Every action of the Query API's table is exercised
(ZzCoverage fails otherwise); response shapes are compared with moto's in shapes_test.py.

Each test names the one-line bug it catches. Actions another change has not wired into the Query
API yet are skipped with a message naming them (never passed quietly).

  query_conformance_test.py --query-cloud build/tests/conformance/query_cloud [unittest args]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import botocore.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctx  # noqa: E402
import qclient  # noqa: E402
from qclient import b64, raw  # noqa: E402

from ctx import (CTX, EXERCISED, USER_DATA, call, cloud, code_of, ec2, need,  # noqa: E402
                 run_one, wait)


class AuthTest(unittest.TestCase):
    # Bug: a request without any signature served (the verifier skipped when no header).
    def test_unsigned_refused(self):
        r = call("DescribeInstances", sign=False)
        self.assertEqual(r.status, 401, r.body)
        self.assertIn(r.error_code(), ("MissingAuthenticationToken", "AuthFailure"))

    # Bug: the signature not compared (any secret accepted for a known key).
    def test_mis_signed_refused(self):
        r = call("DescribeInstances", secret="not-the-secret")
        self.assertEqual(r.error_code(), "SignatureDoesNotMatch", r.body)
        self.assertGreaterEqual(r.status, 400)
        self.assertLess(r.status, 500)

    # Bug: X-Amz-Date not checked against the clock (a captured request replayable forever).
    def test_expired_refused(self):
        at = qclient.utc_now() - qclient.datetime.timedelta(minutes=16)
        r = call("DescribeInstances", signed_at=at)
        self.assertEqual(r.error_code(), "RequestExpired", r.body)

    # Bug: an unknown access key id answered as a bad signature leaking that it is unknown in
    # another way, or served.
    def test_unknown_key_refused(self):
        r = call("DescribeInstances", key="AKIAUNKNOWNKEY000000")
        self.assertEqual(r.error_code(), "AuthFailure", r.body)
        self.assertEqual(r.status, 401)

    # Bug: a deleted access key still verifying (the verifier caching keys, or Delete a no-op).
    def test_deleted_key_refused(self):
        info = cloud().info
        r = call("DescribeInstances", key=info["deleted_access_key_id"],
                 secret=info["deleted_secret_access_key"])
        self.assertEqual((r.status, r.error_code()), (401, "AuthFailure"), r.body)

    # Bug: the presigned (query-string) form not accepted, or accepted after tampering.
    def test_presigned_get(self):
        url = ec2().generate_presigned_url("describe_availability_zones", ExpiresIn=60,
                                          HttpMethod="GET")
        with urllib.request.urlopen(url, timeout=30) as resp:
            self.assertEqual(resp.status, 200)
            self.assertIn(b"availabilityZoneInfo", resp.read())
        tampered = url.replace("Action=DescribeAvailabilityZones", "Action=DescribeInstances")
        try:
            urllib.request.urlopen(tampered, timeout=30)
            self.fail("tampered presigned URL accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 403)

    # Bug: the aws CLI's own signing (its headers, its encoding) refused by the verifier, or a
    # wrong secret from the CLI accepted.
    def test_aws_cli_v1_signs_and_wrong_secret_refused(self):
        v1 = CTX["v1"]
        self.assertEqual(v1("describe-availability-zones").rc, 0)
        saved = v1.env["AWS_SECRET_ACCESS_KEY"]
        v1.env["AWS_SECRET_ACCESS_KEY"] = "wrong"
        try:
            r = v1("describe-availability-zones")
        finally:
            v1.env["AWS_SECRET_ACCESS_KEY"] = saved
        self.assertNotEqual(r.rc, 0)
        self.assertEqual(r.error_code(), "SignatureDoesNotMatch", r.stderr)


class ProtocolErrorsTest(unittest.TestCase):
    # Bug: an unknown action answered 200 or 500.
    def test_invalid_action(self):
        r = raw(cloud(), {"Action": "LaunchRockets"})
        self.assertEqual((r.status, r.error_code()), (400, "InvalidAction"))
        self.assertIsNotNone(r.xml.find("./RequestID"))

    # Bug: Version not required (EC2 refuses a request without it).
    def test_missing_version(self):
        r = raw(cloud(), {"Action": "DescribeInstances"}, version=None)
        self.assertEqual((r.status, r.error_code()), (400, "MissingParameter"))

    # Bug: a parameter the action does not know silently ignored.
    def test_unknown_parameter(self):
        r = call("DescribeInstances", {"InstanceIdz.1": "i-0123456789abcdef0"})
        self.assertEqual((r.status, r.error_code()), (400, "UnknownParameter"))

    # Bug: user data that is not base64 stored as is (EC2 refuses it with this message).
    def test_invalid_base64_user_data(self):
        r = call("RunInstances", {"ImageId": cloud().image, "MinCount": "1", "MaxCount": "1",
                                  "InstanceType": "t3.micro", "UserData": "%%%not base64%%%"})
        self.assertEqual((r.status, r.error_code()), (400, "InvalidParameterValue"))
        self.assertIn("Invalid BASE64 encoding of user data", r.body.decode())

    # Bug: a wrong type (MaxCount=abc) crashing the parse or read as 0.
    def test_wrong_type(self):
        r = call("RunInstances", {"ImageId": cloud().image, "MinCount": "1", "MaxCount": "abc"})
        self.assertEqual(r.status, 400)
        self.assertIn(r.error_code(), ("InvalidParameterValue", "InvalidParameterType"))

    # Bug: GET with the parameters in the query string not read.
    def test_get_form(self):
        r = call("DescribeAvailabilityZones", method="GET")
        self.assertEqual(r.status, 200, r.body)

    # Bug: EC2's not-found and malformed codes swapped or turned into 500.
    def test_not_found_and_malformed_ids(self):
        self.assertEqual(code_of(ec2().describe_instances, InstanceIds=["i-0123456789abcdef0"]),
                         ("InvalidInstanceID.NotFound", 400))
        self.assertEqual(code_of(ec2().describe_instances, InstanceIds=["bogus"]),
                         ("InvalidInstanceID.Malformed", 400))
        self.assertEqual(
            code_of(ec2().run_instances, ImageId="ami-0123456789abcdef0", InstanceType="t3.micro",
                    MinCount=1, MaxCount=1),
            ("InvalidAMIID.NotFound", 400))
        self.assertEqual(code_of(ec2().get_console_output, InstanceId="i-0123456789abcdef0"),
                         ("InvalidInstanceID.NotFound", 400))

    # Bug: the CLIs' error path (their parse of our error document) not seeing EC2's code.
    def test_cli_errors(self):
        for cli in (CTX["v1"], CTX["v2"]):
            if cli is None:
                continue
            r = cli("describe-instances", "--instance-ids", "i-0123456789abcdef0")
            self.assertNotEqual(r.rc, 0)
            self.assertEqual(r.error_code(), "InvalidInstanceID.NotFound", r.stderr)

    # Bug: RegisterImage pretending to succeed though the Query API cannot take image bytes.
    def test_register_image_unsupported(self):
        code, status = code_of(ec2().register_image, Name="conformance-s3", ImageLocation="s3://b/m.xml")
        self.assertEqual((code, status), ("UnsupportedOperation", 400))


class DryRunTest(unittest.TestCase):
    # Bug: DryRun launching (or terminating) for real, or answered 200.
    def test_run_instances_dry_run(self):
        before = len(ec2().describe_instances()["Reservations"])
        self.assertEqual(code_of(run_one, DryRun=True), ("DryRunOperation", 412))
        self.assertEqual(len(ec2().describe_instances()["Reservations"]), before)

    # Bug: DryRun validation skipped (a DryRun for a bad AMI said it would succeed).
    def test_dry_run_validates_first(self):
        self.assertEqual(code_of(ec2().run_instances, ImageId="ami-0123456789abcdef0",
                                 InstanceType="t3.micro", MinCount=1, MaxCount=1, DryRun=True),
                         ("InvalidAMIID.NotFound", 400))

    # Bug: DryRun on a read-only action returning data instead of DryRunOperation.
    def test_describe_dry_run(self):
        self.assertEqual(code_of(ec2().describe_instances, DryRun=True), ("DryRunOperation", 412))

    def test_terminate_dry_run_keeps_instance(self):
        iid = run_one()
        self.assertEqual(code_of(ec2().terminate_instances, InstanceIds=[iid], DryRun=True),
                         ("DryRunOperation", 412))
        state = ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertNotIn(state["State"]["Name"], ("shutting-down", "terminated"))
        ec2().terminate_instances(InstanceIds=[iid])

    # Bug: the CLI's --dry-run not mapped to DryRun (the CLI prints EC2's DryRunOperation).
    def test_cli_dry_run(self):
        r = CTX["v1"]("run-instances", "--image-id", cloud().image, "--instance-type",
                      "t3.micro", "--dry-run")
        self.assertNotEqual(r.rc, 0)
        self.assertEqual(r.error_code(), "DryRunOperation", r.stderr)


class LifecycleCliV1Test(unittest.TestCase):
    """The whole life of an instance through the aws CLI v1 and its waiters."""

    # Bug (each step): an action or waiter of the CLI not working end to end: user data not
    # round-tripped, a state name EC2's waiters do not know, a filter ignored.
    def test_lifecycle(self):
        v1 = CTX["v1"]
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
            f.write(USER_DATA)
        args = ["run-instances", "--image-id", cloud().image, "--instance-type", "t3.micro",
                "--user-data", f"file://{f.name}", "--client-token", "conformance-v1-token"]
        tagged = "CreateTags" in cloud().actions
        if tagged:
            args += ["--tag-specifications",
                     "ResourceType=instance,Tags=[{Key=Name,Value=cli-v1},{Key=suite,Value=q}]"]
        r = v1(*args)
        self.assertEqual(r.rc, 0, r.stderr)
        iid = r.json["Instances"][0]["InstanceId"]
        # ClientToken: the same token answers the same instance, launches nothing new.
        again = v1(*args)
        os.unlink(f.name)
        self.assertEqual(again.rc, 0, again.stderr)
        self.assertEqual(again.json["Instances"][0]["InstanceId"], iid)

        # The CLI's waiters poll every 15 s (botocore's waiter model): each state is first
        # reached with boto3 polling every second, so that the CLI waiter's first check must
        # accept it (a state name it does not know still fails it).
        wait("instance_running", [iid])
        self.assertEqual(v1("wait", "instance-running", "--instance-ids", iid).rc, 0)
        r = v1("describe-instances", "--filters", "Name=instance-state-name,Values=running",
               "Name=instance-type,Values=t3.micro")
        ids = [i["InstanceId"] for res in r.json["Reservations"] for i in res["Instances"]]
        self.assertIn(iid, ids)
        r = v1("describe-instances", "--filters", "Name=instance-state-name,Values=stopped")
        ids = [i["InstanceId"] for res in r.json["Reservations"] for i in res["Instances"]]
        self.assertNotIn(iid, ids)
        if tagged:
            r = v1("describe-instances", "--filters", "Name=tag:Name,Values=cli-v1")
            ids = [i["InstanceId"] for res in r.json["Reservations"] for i in res["Instances"]]
            self.assertEqual(ids, [iid])

        r = v1("describe-instance-attribute", "--instance-id", iid, "--attribute", "userData")
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.json["UserData"]["Value"], b64(USER_DATA))
        r = v1("get-console-output", "--instance-id", iid)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.json["InstanceId"], iid)

        if "DescribeInstanceStatus" in cloud().actions:
            ec2().get_waiter("instance_status_ok").wait(
                InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
            r = v1("wait", "instance-status-ok", "--instance-ids", iid)
            self.assertEqual(r.rc, 0, r.stderr)
        if "RebootInstances" in cloud().actions:
            self.assertEqual(v1("reboot-instances", "--instance-ids", iid).rc, 0)

        r = v1("stop-instances", "--instance-ids", iid)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.json["StoppingInstances"][0]["PreviousState"]["Name"], "running")
        wait("instance_stopped", [iid])
        self.assertEqual(v1("wait", "instance-stopped", "--instance-ids", iid).rc, 0)
        # Both forms the CLI has: --attribute userData --value (base64 on the wire as given)
        # and --user-data (a blob the CLI base64-encodes).
        r = v1("modify-instance-attribute", "--instance-id", iid, "--attribute", "userData",
               "--value", b64("#!/bin/sh\necho changed\n"))
        self.assertEqual(r.rc, 0, r.stderr)
        r = v1("describe-instance-attribute", "--instance-id", iid, "--attribute", "userData")
        self.assertEqual(r.json["UserData"]["Value"], b64("#!/bin/sh\necho changed\n"))
        r = v1("modify-instance-attribute", "--instance-id", iid, "--user-data",
               json.dumps({"Value": "#!/bin/sh\necho again\n"}))
        self.assertEqual(r.rc, 0, r.stderr)
        r = v1("describe-instance-attribute", "--instance-id", iid, "--attribute", "userData")
        self.assertEqual(r.json["UserData"]["Value"], b64("#!/bin/sh\necho again\n"))
        r = v1("start-instances", "--instance-ids", iid)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.json["StartingInstances"][0]["PreviousState"]["Name"], "stopped")
        wait("instance_running", [iid])
        self.assertEqual(v1("wait", "instance-running", "--instance-ids", iid).rc, 0)
        r = v1("modify-instance-metadata-options", "--instance-id", iid, "--http-tokens",
               "required")
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.json["InstanceMetadataOptions"]["HttpTokens"], "required")
        r = v1("terminate-instances", "--instance-ids", iid)
        self.assertEqual(r.rc, 0, r.stderr)
        wait("instance_terminated", [iid])
        self.assertEqual(v1("wait", "instance-terminated", "--instance-ids", iid).rc, 0)


class LifecycleCliV2Test(unittest.TestCase):
    # Bug: something only aws CLI v2 does differently (its own botocore fork, its own waiter
    # definitions, --endpoint-url) breaking against us.
    def test_lifecycle(self):
        v2 = CTX["v2"]
        if v2 is None:
            self.skipTest("no aws CLI v2 at /usr/bin/aws (Debian package awscli)")
        r = v2("run-instances", "--image-id", cloud().image, "--instance-type", "t3.micro",
               "--user-data", USER_DATA)
        self.assertEqual(r.rc, 0, r.stderr)
        iid = r.json["Instances"][0]["InstanceId"]
        self.assertEqual(v2("wait", "instance-running", "--instance-ids", iid).rc, 0)
        r = v2("describe-instances", "--instance-ids", iid)
        inst = r.json["Reservations"][0]["Instances"][0]
        self.assertEqual((inst["InstanceId"], inst["State"]["Name"]), (iid, "running"))
        self.assertEqual(v2("stop-instances", "--instance-ids", iid).rc, 0)
        self.assertEqual(v2("wait", "instance-stopped", "--instance-ids", iid).rc, 0)
        self.assertEqual(v2("terminate-instances", "--instance-ids", iid).rc, 0)
        self.assertEqual(v2("wait", "instance-terminated", "--instance-ids", iid).rc, 0)
        r = v2("describe-availability-zones")
        self.assertTrue(r.json["AvailabilityZones"])
        r = v2("describe-instance-types", "--instance-types", "t3.micro")
        self.assertEqual(r.json["InstanceTypes"][0]["InstanceType"], "t3.micro")


class ZzCoverageTest(unittest.TestCase):
    """Runs last (classes run in name order)."""

    # Bug: an action added to the Query API's table with no conformance case.
    def test_every_action_exercised(self):
        for name in ("v1", "v2"):
            if CTX.get(name):
                EXERCISED.update(qclient.cli_verb_to_action(v) for v in CTX[name].called)
        missing = sorted(cloud().actions - EXERCISED)
        self.assertEqual(missing, [], "actions of the Query API no test called")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--query-cloud", required=True)
    args, rest = parser.parse_known_args()
    if not shutil.which("aws"):
        print("SKIP: the aws CLI v1 is not on PATH")
        sys.exit(qclient.SKIP)
    if not os.access(args.query_cloud, os.X_OK):
        print(f"SKIP: no {args.query_cloud}")
        sys.exit(qclient.SKIP)
    from resources_test import *  # noqa: E402,F401,F403  (more cases over the same cloud)
    from shapes_test import *  # noqa: E402,F401,F403

    ctx.start(args.query_cloud)
    try:
        program = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    finally:
        ctx.stop()
    if not program.result.wasSuccessful():
        sys.exit(1)
    # A skipped case checked nothing: the run is reported as skipped (ctest), never as passed.
    if program.result.skipped:
        print(f"SKIP: {len(program.result.skipped)} case(s) skipped (listed above)")
        sys.exit(qclient.SKIP)
    sys.exit(0)
