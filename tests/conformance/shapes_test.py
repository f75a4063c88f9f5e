"""Response shapes against moto: the same calls, signed the same way, to our cloud and to
`python3 -m moto.server`; the element paths of the two XML answers compared (names and nesting,
not values). Every difference must be listed, with its reason, in docs/query-api-vs-moto.md,
and every row there must still be a difference: the test fails either way, printing the rows to
add or drop. MINICLOUD_MOTO_DIFF=FILE also writes the rows found to FILE.

Bug caught: any element we name or nest differently from EC2's wire format as moto (built from
botocore's model and AWS's docs) has it, e.g. `instanceState` instead of `instanceState/name`."""

import os
import re
import subprocess
import tempfile
import unittest

import qclient
from ctx import cloud, ec2
from qclient import b64, element_paths, raw

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "query-api-vs-moto.md")
ROW = re.compile(r"^\|\s*(\w+)\s*\|\s*`([^`]+)`\s*\|\s*(minicloud|moto)\s*\|")


NOT_IN_MOTO = "(action not implemented by moto)"


def documented():
    rows = set()
    with open(DOC) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                rows.add((m.group(1), m.group(2), m.group(3)))
    return rows


def topmost(paths):
    """Drops paths whose parent is also in the set: one row per missing subtree."""
    return {p for p in paths if p.rsplit("/", 1)[0] not in paths}


def strip_root(path):
    return path.split("/", 1)[1] if "/" in path else "."


class Side:
    def __init__(self, target, client, image):
        self.target = target
        self.client = client
        self.image = image
        self.ids = {}

    def call(self, action, params):
        return raw(self.target, {"Action": action, **params})


class MotoShapesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            cls.moto = qclient.Moto()
        except Exception as e:  # moto missing or not starting: the comparison cannot run
            raise unittest.SkipTest(f"moto.server: {e}")
        moto_client = qclient.boto3_client(cls.moto)
        moto_image = moto_client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        cls.sides = {"minicloud": Side(cloud(), ec2(), cloud().image),
                     "moto": Side(cls.moto, moto_client, moto_image)}
        cls.found = set()
        cls.compared = []

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def compare(self, action, params_of, ok_statuses=(200,)):
        """Calls `action` on both sides with params_of(side) and records the differences."""
        answers = {}
        for name, side in self.sides.items():
            r = side.call(action, params_of(side))
            if name == "moto" and r.status == 500 and r.xml is None:
                # moto.server answers an action it does not implement with an HTML 500 page
                # (NotImplementedError in its log): nothing to compare with.
                self.found.add((action, NOT_IN_MOTO, "minicloud"))
                return None
            self.assertIn(r.status, ok_statuses, f"{name} {action}: {r.body[:600]}")
            answers[name] = element_paths(r.body)
        ours, theirs = answers["minicloud"], answers["moto"]
        for path in topmost(ours - theirs):
            self.found.add((action, strip_root(path), "minicloud"))
        for path in topmost(theirs - ours):
            self.found.add((action, strip_root(path), "moto"))
        self.compared.append(action)
        return answers

    def run_instance(self, side):
        r = side.client.run_instances(ImageId=side.image, InstanceType="t3.micro", MinCount=1,
                                      MaxCount=1, UserData="#!/bin/sh\necho shapes\n")
        iid = r["Instances"][0]["InstanceId"]
        side.client.get_waiter("instance_running").wait(
            InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        return iid

    def test_shapes(self):
        c = self.compare
        have = cloud().actions
        c("RunInstances", lambda s: {"ImageId": s.image, "InstanceType": "t3.micro",
                                     "MinCount": "1", "MaxCount": "1",
                                     "UserData": b64("#!/bin/sh\n")})
        for side in self.sides.values():
            side.ids["i"] = self.run_instance(side)
        inst = lambda s: {"InstanceId.1": s.ids["i"]}  # noqa: E731
        one = lambda s: {"InstanceId": s.ids["i"]}  # noqa: E731
        c("DescribeInstances", inst)
        c("DescribeInstanceAttribute", lambda s: {**one(s), "Attribute": "userData"})
        c("GetConsoleOutput", one)
        c("ModifyInstanceMetadataOptions", lambda s: {**one(s), "HttpTokens": "required"})
        if "DescribeInstanceStatus" in have:
            c("DescribeInstanceStatus", inst)
        if "RebootInstances" in have:
            c("RebootInstances", inst)
        if "CreateTags" in have:
            tag = {"Tag.1.Key": "shape", "Tag.1.Value": "x"}
            c("CreateTags", lambda s: {"ResourceId.1": s.ids["i"], **tag})
            c("DescribeTags", lambda s: {"Filter.1.Name": "resource-id",
                                         "Filter.1.Value.1": s.ids["i"]})
            c("DeleteTags", lambda s: {"ResourceId.1": s.ids["i"], "Tag.1.Key": "shape"})
        c("StopInstances", inst)
        for side in self.sides.values():
            side.client.get_waiter("instance_stopped").wait(
                InstanceIds=[side.ids["i"]], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        # The Attribute/Value form: moto 5.2 refuses botocore's UserData.Value form.
        c("ModifyInstanceAttribute", lambda s: {**one(s), "Attribute": "userData",
                                                "Value": b64("#!/bin/sh\n")})
        c("StartInstances", inst)
        c("TerminateInstances", inst)

        c("DescribeInstanceTypes", lambda s: {"InstanceType.1": "t3.micro"})
        c("DescribeAvailabilityZones", lambda s: {})
        if "DescribeRegions" in have:
            c("DescribeRegions", lambda s: {})
        c("DescribeImages", lambda s: {"ImageId.1": s.image})
        c("CreateKeyPair", lambda s: {"KeyName": "shape-key"})
        c("DescribeKeyPairs", lambda s: {"KeyName.1": "shape-key"})
        c("DeleteKeyPair", lambda s: {"KeyName": "shape-key"})
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/k"],
                           check=True)
            with open(f"{d}/k.pub") as f:
                public = b64(f.read())
        c("ImportKeyPair", lambda s: {"KeyName": "shape-imported", "PublicKeyMaterial": public})
        c("DeleteKeyPair", lambda s: {"KeyName": "shape-imported"})
        c("CreatePlacementGroup", lambda s: {"GroupName": "shape-pg", "Strategy": "spread"})
        c("DescribePlacementGroups", lambda s: {"GroupName.1": "shape-pg"})
        c("DeletePlacementGroup", lambda s: {"GroupName": "shape-pg"})
        # The error document.
        c("DescribeInstances", lambda s: {"InstanceId.1": "i-0123456789abcdef0"},
          ok_statuses=(400,))

        rows = self.found
        out = os.environ.get("MINICLOUD_MOTO_DIFF")
        if out:
            with open(out, "w") as f:
                for action, path, side in sorted(rows):
                    f.write(f"| {action} | `{path}` | {side} | |\n")
        doc = documented()
        undocumented = sorted(rows - doc)
        stale = sorted(doc - rows)
        fmt = lambda rs: "\n".join(f"| {a} | `{p}` | {s} |" for a, p, s in rs)  # noqa: E731
        self.assertEqual(undocumented, [],
                         f"differences from moto not in {DOC}:\n{fmt(undocumented)}")
        self.assertEqual(stale, [], f"rows of {DOC} that are no longer differences:\n{fmt(stale)}")
