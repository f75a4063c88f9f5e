"""Conformance cases over key pairs, placement groups, images, zones, instance types, tags,
filters, pagination and minicloud's own actions (boto3 and raw signed requests). Run by
query_conformance_test.py, which owns the cloud. Each test names the one-line bug it catches."""

import subprocess
import time
import tempfile
import unittest

from ctx import CTX, call, cloud, code_of, ec2, need, run_one, skip_if_unwired, wait


def ids_of(resp):
    return [i["InstanceId"] for r in resp["Reservations"] for i in r["Instances"]]


class KeyPairTest(unittest.TestCase):
    # Bug: CreateKeyPair not returning the private key once, a duplicate name accepted, or
    # DeleteKeyPair a no-op.
    def test_create_describe_delete(self):
        k = ec2().create_key_pair(KeyName="conf-created")
        self.assertIn("PRIVATE KEY", k["KeyMaterial"])
        self.assertTrue(k["KeyPairId"].startswith("key-"))
        self.assertEqual(code_of(ec2().create_key_pair, KeyName="conf-created"),
                         ("InvalidKeyPair.Duplicate", 400))
        got = ec2().describe_key_pairs(KeyNames=["conf-created"])
        self.assertEqual([p["KeyName"] for p in got["KeyPairs"]], ["conf-created"])
        self.assertNotIn("KeyMaterial", got["KeyPairs"][0])
        ec2().delete_key_pair(KeyName="conf-created")
        self.assertEqual(code_of(ec2().describe_key_pairs, KeyNames=["conf-created"]),
                         ("InvalidKeyPair.NotFound", 400))

    # Bug: DescribeKeyPairs's Filter ignored or refused (EC2 has key-name, key-pair-id, ...).
    def test_filters(self):
        skip_if_unwired(ec2().describe_key_pairs, what="Filter.N of DescribeKeyPairs",
                        Filters=[{"Name": "key-name", "Values": ["x"]}])
        ec2().create_key_pair(KeyName="conf-filter-a")
        ec2().create_key_pair(KeyName="conf-filter-b", KeyType="ed25519")
        try:
            got = ec2().describe_key_pairs(
                Filters=[{"Name": "key-name", "Values": ["conf-filter-a"]}])["KeyPairs"]
            self.assertEqual([p["KeyName"] for p in got], ["conf-filter-a"])
            got = ec2().describe_key_pairs(
                Filters=[{"Name": "key-type", "Values": ["ed25519"]}])["KeyPairs"]
            self.assertIn("conf-filter-b", [p["KeyName"] for p in got])
            self.assertNotIn("conf-filter-a", [p["KeyName"] for p in got])
        finally:
            ec2().delete_key_pair(KeyName="conf-filter-a")
            ec2().delete_key_pair(KeyName="conf-filter-b")

    # Bug: ImportKeyPair's base64 public key not decoded, or its fingerprint not EC2's.
    def test_import(self):
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/k"],
                           check=True)
            with open(f"{d}/k.pub", "rb") as f:
                public = f.read()
        k = ec2().import_key_pair(KeyName="conf-imported", PublicKeyMaterial=public)
        self.assertEqual(k["KeyName"], "conf-imported")
        self.assertTrue(k["KeyFingerprint"])
        got = ec2().describe_key_pairs(KeyNames=["conf-imported"], IncludePublicKey=True)
        self.assertEqual(got["KeyPairs"][0]["PublicKey"].split()[:2],
                         public.decode().split()[:2])
        ec2().delete_key_pair(KeyName="conf-imported")


class PlacementGroupTest(unittest.TestCase):
    # Bug: a strategy or partition count dropped, a group deletable while in use.
    def test_create_describe_delete(self):
        ec2().create_placement_group(GroupName="conf-spread", Strategy="spread")
        ec2().create_placement_group(GroupName="conf-part", Strategy="partition",
                                     PartitionCount=2)
        self.assertEqual(code_of(ec2().create_placement_group, GroupName="conf-spread",
                                 Strategy="spread"),
                         ("InvalidPlacementGroup.Duplicate", 400))
        got = ec2().describe_placement_groups(GroupNames=["conf-part"])["PlacementGroups"]
        self.assertEqual([(g["GroupName"], g["Strategy"], g["PartitionCount"], g["State"])
                          for g in got], [("conf-part", "partition", 2, "available")])
        iid = run_one(Placement={"GroupName": "conf-spread"})
        self.assertEqual(code_of(ec2().delete_placement_group, GroupName="conf-spread"),
                         ("InvalidPlacementGroup.InUse", 400))
        ec2().terminate_instances(InstanceIds=[iid])
        wait("instance_terminated", [iid])
        ec2().delete_placement_group(GroupName="conf-spread")
        ec2().delete_placement_group(GroupName="conf-part")
        self.assertEqual(code_of(ec2().describe_placement_groups, GroupNames=["conf-part"]),
                         ("InvalidPlacementGroup.Unknown", 400))

    # Bug: DescribePlacementGroups's Filter ignored (every group returned).
    def test_filters(self):
        skip_if_unwired(ec2().describe_placement_groups, what="Filter.N of "
                        "DescribePlacementGroups", Filters=[{"Name": "strategy", "Values": ["x"]}])
        ec2().create_placement_group(GroupName="conf-filter-c", Strategy="cluster")
        ec2().create_placement_group(GroupName="conf-filter-s", Strategy="spread")
        try:
            got = ec2().describe_placement_groups(
                Filters=[{"Name": "strategy", "Values": ["cluster"]}])["PlacementGroups"]
            self.assertEqual([g["GroupName"] for g in got], ["conf-filter-c"])
        finally:
            ec2().delete_placement_group(GroupName="conf-filter-c")
            ec2().delete_placement_group(GroupName="conf-filter-s")


class CatalogTest(unittest.TestCase):
    # Bug: the registered AMI missing from DescribeImages, or the name filter ignored.
    def test_images(self):
        got = ec2().describe_images(ImageIds=[cloud().image])["Images"]
        self.assertEqual([i["ImageId"] for i in got], [cloud().image])
        self.assertEqual(got[0]["State"], "available")
        got = ec2().describe_images(
            Filters=[{"Name": "name", "Values": ["conformance-image"]}])
        self.assertEqual([i["ImageId"] for i in got["Images"]], [cloud().image])
        self.assertEqual(code_of(ec2().deregister_image, ImageId="ami-0123456789abcdef0"),
                         ("InvalidAMIID.NotFound", 400))

    # Bug: DeregisterImage answering success without removing the image.
    def test_deregister(self):
        spare = cloud().info["spare_image_id"]
        self.assertEqual(len(ec2().describe_images(ImageIds=[spare])["Images"]), 1)
        ec2().deregister_image(ImageId=spare)
        code, status = code_of(ec2().describe_images, ImageIds=[spare])
        self.assertEqual((code, status), ("InvalidAMIID.NotFound", 400))

    # Bug: zones of the hosts not listed, or the zone-name filter ignored.
    def test_availability_zones(self):
        zones = ec2().describe_availability_zones()["AvailabilityZones"]
        names = sorted(z["ZoneName"] for z in zones)
        self.assertEqual(names, ["home-1a", "home-1b"])
        self.assertTrue(all(z["RegionName"] == "home-1" for z in zones))
        zones = ec2().describe_availability_zones(
            Filters=[{"Name": "zone-name", "Values": ["home-1b"]}])["AvailabilityZones"]
        self.assertEqual([z["ZoneName"] for z in zones], ["home-1b"])

    # Bug: an instance type's vCPUs or memory not EC2's numbers.
    def test_instance_types(self):
        got = ec2().describe_instance_types(InstanceTypes=["t3.micro", "m5.large"])
        by = {t["InstanceType"]: t for t in got["InstanceTypes"]}
        self.assertEqual(by["t3.micro"]["VCpuInfo"]["DefaultVCpus"], 2)
        self.assertEqual(by["t3.micro"]["MemoryInfo"]["SizeInMiB"], 1024)
        self.assertEqual(by["m5.large"]["MemoryInfo"]["SizeInMiB"], 8192)
        self.assertEqual(code_of(ec2().describe_instance_types, InstanceTypes=["x9.nope"])[0],
                         "InvalidInstanceType")

    # Bug: DescribeRegions missing the cloud's own region.
    def test_regions(self):
        need("DescribeRegions")
        regions = [r["RegionName"] for r in ec2().describe_regions()["Regions"]]
        self.assertIn("home-1", regions)


class FilterAndTagTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = ec2().run_instances(ImageId=cloud().image, InstanceType="t3.nano", MinCount=2,
                                MaxCount=2)
        cls.ids = [i["InstanceId"] for i in r["Instances"]]
        wait("instance_running", cls.ids)

    @classmethod
    def tearDownClass(cls):
        ec2().terminate_instances(InstanceIds=cls.ids)

    # Bug: filters on DescribeInstances ignored (all instances returned).
    def test_filters(self):
        got = ids_of(ec2().describe_instances(
            Filters=[{"Name": "instance-type", "Values": ["t3.nano"]},
                     {"Name": "instance-state-name", "Values": ["running"]}]))
        self.assertEqual(sorted(got), sorted(self.ids))
        got = ids_of(ec2().describe_instances(
            Filters=[{"Name": "instance-id", "Values": [self.ids[0]]}]))
        self.assertEqual(got, [self.ids[0]])
        zone = ec2().describe_instances(InstanceIds=[self.ids[0]])[
            "Reservations"][0]["Instances"][0]["Placement"]["AvailabilityZone"]
        got = ids_of(ec2().describe_instances(
            Filters=[{"Name": "availability-zone", "Values": [zone]}]))
        self.assertIn(self.ids[0], got)

    # Bug: tags not stored, tag:Key / tag-key filters ignored, DeleteTags a no-op.
    def test_tags(self):
        need("CreateTags", "DeleteTags", "DescribeTags")
        a, b = self.ids
        ec2().create_tags(Resources=[a, b], Tags=[{"Key": "team", "Value": "red"}])
        ec2().create_tags(Resources=[b], Tags=[{"Key": "only-b", "Value": ""}])
        got = ids_of(ec2().describe_instances(Filters=[{"Name": "tag:team", "Values": ["red"]}]))
        self.assertEqual(sorted(got), sorted(self.ids))
        got = ids_of(ec2().describe_instances(Filters=[{"Name": "tag-key", "Values": ["only-b"]}]))
        self.assertEqual(got, [b])
        tags = ec2().describe_tags(Filters=[{"Name": "resource-id", "Values": [b]}])["Tags"]
        self.assertEqual(sorted((t["Key"], t["Value"], t["ResourceType"]) for t in tags),
                         [("only-b", "", "instance"), ("team", "red", "instance")])
        ec2().delete_tags(Resources=[b], Tags=[{"Key": "team"}])
        got = ids_of(ec2().describe_instances(Filters=[{"Name": "tag:team", "Values": ["red"]}]))
        self.assertEqual(got, [a])
        self.assertEqual(code_of(ec2().create_tags, Resources=["i-0123456789abcdef0"],
                                 Tags=[{"Key": "k", "Value": "v"}])[0],
                         "InvalidInstanceID.NotFound")

    # Bug: TagSpecification on RunInstances dropped.
    def test_tags_on_create(self):
        need("CreateTags")
        iid = run_one(TagSpecifications=[{"ResourceType": "instance",
                                          "Tags": [{"Key": "born", "Value": "tagged"}]}])
        inst = ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertIn({"Key": "born", "Value": "tagged"}, inst.get("Tags", []))
        ec2().terminate_instances(InstanceIds=[iid])


class PaginationTest(unittest.TestCase):
    # Bug: MaxResults ignored (everything in one page) or NextToken skipping/repeating items.
    def test_describe_instances_pages(self):
        r = ec2().run_instances(ImageId=cloud().image, InstanceType="t3.nano", MinCount=6,
                                MaxCount=6)
        mine = sorted(i["InstanceId"] for i in r["Instances"])
        try:
            code, _ = code_of(ec2().describe_instances, MaxResults=5)
            if code == "UnknownParameter":
                self.skipTest("MaxResults/NextToken not wired into the Query API yet")
            first = ec2().describe_instances(MaxResults=5)
            self.assertLessEqual(len(ids_of(first)), 5)
            self.assertIn("NextToken", first)
            seen = []
            for page in ec2().get_paginator("describe_instances").paginate(
                    PaginationConfig={"PageSize": 5}):
                seen += ids_of(page)
            self.assertEqual(len(seen), len(set(seen)))
            self.assertTrue(set(mine) <= set(seen))
            # The CLI follows NextToken by itself and --max-items cuts it.
            r = CTX["v1"]("describe-instances", "--page-size", "5", "--max-items", "3")
            self.assertEqual(r.rc, 0, r.stderr)
            self.assertEqual(len(ids_of(r.json)), 3)
            self.assertIn("NextToken", r.json)
        finally:
            ec2().terminate_instances(InstanceIds=mine)

    # Bug: a garbage NextToken crashing the server or read as "from the start".
    def test_bad_next_token(self):
        code, status = code_of(ec2().describe_instances, MaxResults=5, NextToken="garbage")
        if code == "UnknownParameter":
            self.skipTest("MaxResults/NextToken not wired into the Query API yet")
        # EC2's code for a token it did not issue (or that expired): InvalidPaginationToken
        # (docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
        self.assertEqual((code, status), ("InvalidPaginationToken", 400))


class InstanceStatusTest(unittest.TestCase):
    # Bug: DescribeInstanceStatus listing stopped instances without IncludeAllInstances, or
    # its checks never reaching "ok" (the instance-status-ok waiter would hang).
    def test_status_and_waiter(self):
        need("DescribeInstanceStatus")
        iid = run_one()
        wait("instance_running", [iid])
        ec2().get_waiter("instance_status_ok").wait(
            InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        st = ec2().describe_instance_status(InstanceIds=[iid])["InstanceStatuses"][0]
        self.assertEqual(st["InstanceState"]["Name"], "running")
        self.assertEqual(st["InstanceStatus"]["Status"], "ok")
        ec2().stop_instances(InstanceIds=[iid])
        wait("instance_stopped", [iid])
        self.assertEqual(ec2().describe_instance_status(InstanceIds=[iid])["InstanceStatuses"],
                         [])
        got = ec2().describe_instance_status(InstanceIds=[iid], IncludeAllInstances=True)
        self.assertEqual(got["InstanceStatuses"][0]["InstanceState"]["Name"], "stopped")
        ec2().terminate_instances(InstanceIds=[iid])


class MinicloudActionsTest(unittest.TestCase):
    # Bug: our own actions (not in botocore's model) unreachable through a plain signed request.
    def test_describe_hosts(self):
        r = call("DescribeHosts")
        self.assertEqual(r.status, 200, r.body)
        ns = {"e": "http://ec2.amazonaws.com/doc/2016-11-15/"}
        self.assertEqual(len(r.xml.findall("./e:hostSet/e:item", ns)), 2, r.body)

    # Bug: DescribePlacement changing state (it must only explain where RunInstances would go).
    def test_describe_placement(self):
        before = len(ids_of(ec2().describe_instances()))
        r = call("DescribePlacement", {"ImageId": cloud().image, "InstanceType": "t3.micro",
                                       "MinCount": "1", "MaxCount": "1"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(len(ids_of(ec2().describe_instances())), before)

    # Bug: DescribeUserDataVerdict unreachable through a signed request, answering another
    # instance's verdict, or a status outside the four documented ones.
    def test_describe_user_data_verdict(self):
        iid = run_one(UserData="#!/bin/sh\necho hi\n")
        try:
            r = call("DescribeUserDataVerdict", {"InstanceId.1": iid})
            self.assertEqual(r.status, 200, r.body)
            ns = {"e": "http://ec2.amazonaws.com/doc/2016-11-15/"}
            items = r.xml.findall("./e:verdictSet/e:item", ns)
            self.assertEqual(len(items), 1, r.body)
            self.assertEqual(items[0].findtext("e:instanceId", namespaces=ns), iid)
            self.assertEqual(items[0].findtext("e:hasUserData", namespaces=ns), "true")
            self.assertIn(items[0].findtext("e:status", namespaces=ns),
                          ("unknown", "running", "finished", "failed"), r.body)
            bad = call("DescribeUserDataVerdict", {"InstanceId.1": "i-0123456789abcdef0"})
            self.assertEqual(bad.status, 400, bad.body)
            self.assertEqual(bad.error_code(), "InvalidInstanceID.NotFound", bad.body)
        finally:
            ec2().terminate_instances(InstanceIds=[iid])


class InstanceOptionsTest(unittest.TestCase):
    """The options minicloud has fixed (controller/service/instance_options.h)."""

    # Bug: an option asked for that minicloud cannot honour silently ignored (a caller believing
    # in termination protection), or the defaults SDKs and Terraform send refused.
    def test_run_instances_options(self):
        need("DescribeInstanceCreditSpecifications")
        for extra in ({"CreditSpecification": {"CpuCredits": "standard"}},
                      {"DisableApiTermination": True},
                      {"InstanceInitiatedShutdownBehavior": "terminate"},
                      {"Monitoring": {"Enabled": True}}):
            self.assertEqual(code_of(run_one, **extra), ("UnsupportedOperation", 400), extra)
        iid = run_one(CreditSpecification={"CpuCredits": "unlimited"},
                      DisableApiTermination=False, InstanceInitiatedShutdownBehavior="stop",
                      EbsOptimized=False, Monitoring={"Enabled": False},
                      HibernationOptions={"Configured": False})
        try:
            attr = lambda name: ec2().describe_instance_attribute(  # noqa: E731
                InstanceId=iid, Attribute=name)
            self.assertEqual(attr("disableApiTermination")["DisableApiTermination"]["Value"],
                             False)
            self.assertEqual(attr("disableApiStop")["DisableApiStop"]["Value"], False)
            self.assertEqual(attr("instanceInitiatedShutdownBehavior")[
                "InstanceInitiatedShutdownBehavior"]["Value"], "stop")
            self.assertEqual(attr("instanceType")["InstanceType"]["Value"], "t3.micro")
            self.assertEqual(code_of(ec2().describe_instance_attribute,
                                     InstanceId="i-0123456789abcdef0",
                                     Attribute="disableApiTermination"),
                             ("InvalidInstanceID.NotFound", 400))
            specs = ec2().describe_instance_credit_specifications(InstanceIds=[iid])
            self.assertEqual(specs["InstanceCreditSpecifications"],
                             [{"InstanceId": iid, "CpuCredits": "unlimited"}])
        finally:
            ec2().terminate_instances(InstanceIds=[iid])


class VolumeTest(unittest.TestCase):
    # Bug: a volume action missing from the table, a field boto3 cannot find (Size, State,
    # VolumeType, Iops, Tags), the volume_available waiter never satisfied, the wrong zone
    # accepted, ModifyVolume not growing, or DeleteVolume a no-op.
    def test_create_describe_modify_delete(self):
        v = ec2().create_volume(
            AvailabilityZone="home-1a", Size=8, VolumeType="gp3",
            TagSpecifications=[{"ResourceType": "volume",
                                "Tags": [{"Key": "conf", "Value": "vol"}]}])
        vid = v["VolumeId"]
        self.assertTrue(vid.startswith("vol-"))
        self.assertEqual((v["Size"], v["VolumeType"], v["Iops"]), (8, "gp3", 3000))
        ec2().get_waiter("volume_available").wait(
            VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        got = ec2().describe_volumes(
            Filters=[{"Name": "tag:conf", "Values": ["vol"]}])["Volumes"]
        self.assertEqual([(g["VolumeId"], g["State"], g["AvailabilityZone"]) for g in got],
                         [(vid, "available", "home-1a")])
        self.assertEqual(got[0]["Tags"], [{"Key": "conf", "Value": "vol"}])
        m = ec2().modify_volume(VolumeId=vid, Size=16)["VolumeModification"]
        self.assertEqual((m["OriginalSize"], m["TargetSize"]), (8, 16))
        mods = ec2().describe_volumes_modifications(VolumeIds=[vid])["VolumesModifications"]
        self.assertEqual([x["TargetSize"] for x in mods], [16])
        self.assertEqual(ec2().describe_volumes(VolumeIds=[vid])["Volumes"][0]["Size"], 16)
        self.assertEqual(code_of(ec2().modify_volume, VolumeId=vid, Size=4)[0],
                         "InvalidParameterValue")  # EBS volumes only grow
        ec2().delete_volume(VolumeId=vid)
        ec2().get_waiter("volume_deleted").wait(
            VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        self.assertEqual(code_of(ec2().describe_volumes, VolumeIds=[vid]),
                         ("InvalidVolume.NotFound", 400))

    # Bug: EC2's size rules for a type not applied at the edge (io1 needs 4 GiB and Iops), or a
    # zone without a volume service answering success.
    def test_refusals(self):
        self.assertEqual(code_of(ec2().create_volume, AvailabilityZone="home-1a", Size=2,
                                 VolumeType="io1", Iops=100)[0], "InvalidParameterValue")
        self.assertEqual(code_of(ec2().create_volume, AvailabilityZone="home-1b", Size=1)[0],
                         "InsufficientVolumeCapacity")


class VolumeAttachTest(unittest.TestCase):
    # Bug: AttachVolume/DetachVolume missing from the table; their answer not botocore's
    # VolumeAttachment (State travels as `status`); the volume_in_use waiter never satisfied;
    # the attachment never reaching `attached` (the agent's report ignored); describe-volumes
    # without the attachment set; a second attach of the same volume accepted; detach leaving
    # the volume in-use; a detach of an unattached volume answered success.
    def test_attach_detach(self):
        iid = run_one(Placement={"AvailabilityZone": "home-1a"})
        vid = None
        try:
            wait("instance_running", [iid])
            vid = ec2().create_volume(AvailabilityZone="home-1a", Size=1)["VolumeId"]
            ec2().get_waiter("volume_available").wait(
                VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
            a = ec2().attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
            self.assertEqual((a["VolumeId"], a["InstanceId"], a["Device"], a["State"]),
                             (vid, iid, "/dev/sdf", "attaching"))
            self.assertIn("AttachTime", a)
            self.assertFalse(a["DeleteOnTermination"])
            ec2().get_waiter("volume_in_use").wait(
                VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
            for _ in range(30):
                att = ec2().describe_volumes(VolumeIds=[vid])["Volumes"][0]["Attachments"]
                if att and att[0]["State"] == "attached":
                    break
                time.sleep(1)
            self.assertEqual([(x["InstanceId"], x["Device"], x["State"]) for x in att],
                             [(iid, "/dev/sdf", "attached")])
            self.assertEqual(code_of(ec2().attach_volume, VolumeId=vid, InstanceId=iid,
                                     Device="/dev/sdg")[0], "VolumeInUse")
            # The aws CLI v1: the attachment set and the detach verb.
            r = CTX["v1"]("describe-volumes", "--volume-ids", vid)
            self.assertEqual(r.rc, 0, r.stderr)
            self.assertEqual(r.json["Volumes"][0]["Attachments"][0]["State"], "attached")
            r = CTX["v1"]("detach-volume", "--volume-id", vid)
            self.assertEqual(r.rc, 0, r.stderr)
            self.assertEqual((r.json["VolumeId"], r.json["State"]), (vid, "detaching"))
            ec2().get_waiter("volume_available").wait(
                VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
            self.assertEqual(code_of(ec2().detach_volume, VolumeId=vid)[0], "IncorrectState")
            # Again through the CLI, detached with --force.
            r = CTX["v1"]("attach-volume", "--volume-id", vid, "--instance-id", iid,
                          "--device", "/dev/xvdg")
            self.assertEqual(r.rc, 0, r.stderr)
            self.assertEqual(r.json["Device"], "/dev/xvdg")
            d = ec2().detach_volume(VolumeId=vid, InstanceId=iid, Force=True)
            self.assertEqual(d["InstanceId"], iid)
            ec2().get_waiter("volume_available").wait(
                VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        finally:
            ec2().terminate_instances(InstanceIds=[iid])
            if vid:
                ec2().delete_volume(VolumeId=vid)

    # Bug: EC2's refusals of an attach missing or with another code: a device name that is not
    # one, the root's device, an unknown volume or instance.
    def test_attach_refusals(self):
        iid = run_one(Placement={"AvailabilityZone": "home-1a"})
        try:
            vid = ec2().create_volume(AvailabilityZone="home-1a", Size=1)["VolumeId"]
            self.assertEqual(code_of(ec2().attach_volume, VolumeId=vid, InstanceId=iid,
                                     Device="/dev/hda"),
                             ("InvalidParameterValue", 400))
            self.assertEqual(code_of(ec2().attach_volume, VolumeId=vid, InstanceId=iid,
                                     Device="/dev/xvda")[0], "InvalidParameterValue")
            self.assertEqual(code_of(ec2().attach_volume, VolumeId="vol-0123456789abcdef0",
                                     InstanceId=iid, Device="/dev/sdf")[0],
                             "InvalidVolume.NotFound")
            self.assertEqual(code_of(ec2().attach_volume, VolumeId=vid,
                                     InstanceId="i-0123456789abcdef0", Device="/dev/sdf")[0],
                             "InvalidInstanceID.NotFound")
            ec2().delete_volume(VolumeId=vid)
        finally:
            ec2().terminate_instances(InstanceIds=[iid])


class SnapshotTest(unittest.TestCase):
    # Bug: a snapshot action missing from the table; the snapshot_completed waiter never
    # satisfied (State or Progress not where botocore looks); Owner=self not matching; a volume
    # from a snapshot not defaulting to its size or not naming it; CopySnapshot refusing what
    # botocore adds by itself (DestinationRegion, PresignedUrl) or reusing the source's id;
    # DeleteSnapshot a no-op; EC2's codes lost (InvalidSnapshot.NotFound, InvalidVolume.NotFound).
    def test_boto3_create_wait_copy_clone_delete(self):
        need("CreateSnapshot", "DescribeSnapshots", "DeleteSnapshot", "CopySnapshot")
        vid = ec2().create_volume(AvailabilityZone="home-1a", Size=6)["VolumeId"]
        ec2().get_waiter("volume_available").wait(
            VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        s = ec2().create_snapshot(
            VolumeId=vid, Description="conf",
            TagSpecifications=[{"ResourceType": "snapshot",
                                "Tags": [{"Key": "conf", "Value": "snap"}]}])
        sid = s["SnapshotId"]
        self.assertEqual((s["State"], s["VolumeId"], s["VolumeSize"]), ("pending", vid, 6))
        ec2().get_waiter("snapshot_completed").wait(
            SnapshotIds=[sid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        got = ec2().describe_snapshots(OwnerIds=["self"],
                                       Filters=[{"Name": "tag:conf", "Values": ["snap"]}])
        self.assertEqual([(g["SnapshotId"], g["State"], g["Progress"]) for g in got["Snapshots"]],
                         [(sid, "completed", "100%")])
        self.assertEqual(ec2().describe_snapshots(OwnerIds=["amazon"])["Snapshots"], [])

        clone = ec2().create_volume(AvailabilityZone="home-1a", SnapshotId=sid)
        self.assertEqual((clone["Size"], clone["SnapshotId"]), (6, sid))
        self.assertEqual(code_of(ec2().create_volume, AvailabilityZone="home-1a", Size=2,
                                 SnapshotId=sid)[0], "InvalidParameterValue")

        copy = ec2().copy_snapshot(SourceSnapshotId=sid, SourceRegion=cloud().region,
                                   Description="copy")["SnapshotId"]
        self.assertNotEqual(copy, sid)
        ec2().get_waiter("snapshot_completed").wait(
            SnapshotIds=[copy], WaiterConfig={"Delay": 1, "MaxAttempts": 30})

        for snap in (sid, copy):
            ec2().delete_snapshot(SnapshotId=snap)
            self.assertEqual(code_of(ec2().describe_snapshots, SnapshotIds=[snap]),
                             ("InvalidSnapshot.NotFound", 400))
        self.assertEqual(code_of(ec2().create_snapshot, VolumeId="vol-0123456789abcdef0"),
                         ("InvalidVolume.NotFound", 400))
        for v in (vid, clone["VolumeId"]):
            ec2().delete_volume(VolumeId=v)

    # Bug: the aws CLI v1's verbs failing on our XML (create-snapshot's top-level fields,
    # describe-snapshots' snapshotSet), `aws ec2 wait snapshot-completed` never returning, or
    # copy-snapshot's presigned-URL customization refused.
    def test_aws_cli_v1(self):
        need("CreateSnapshot", "DescribeSnapshots", "DeleteSnapshot", "CopySnapshot")
        v1 = CTX["v1"]
        r = v1("create-volume", "--availability-zone", "home-1a", "--size", "3")
        self.assertEqual(r.rc, 0, r.stderr)
        vid = r.json["VolumeId"]
        r = v1("create-snapshot", "--volume-id", vid, "--description", "cli")
        self.assertEqual(r.rc, 0, r.stderr)
        sid = r.json["SnapshotId"]
        self.assertEqual(r.json["State"], "pending")
        r = v1("wait", "snapshot-completed", "--snapshot-ids", sid)
        self.assertEqual(r.rc, 0, r.stderr)
        r = v1("describe-snapshots", "--owner-ids", "self", "--snapshot-ids", sid)
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertEqual(r.json["Snapshots"][0]["Description"], "cli")
        r = v1("copy-snapshot", "--source-snapshot-id", sid, "--source-region",
               cloud().region)
        self.assertEqual(r.rc, 0, r.stderr)
        copy = r.json["SnapshotId"]
        for snap in (copy, sid):
            r = v1("delete-snapshot", "--snapshot-id", snap)
            self.assertEqual(r.rc, 0, r.stderr)
        r = v1("delete-snapshot", "--snapshot-id", sid)
        self.assertEqual(r.error_code(), "InvalidSnapshot.NotFound")
        self.assertEqual(v1("delete-volume", "--volume-id", vid).rc, 0)


class EbsBackedTest(unittest.TestCase):
    # Bug: DescribeImages without the AMI's BlockDeviceMappings (or its snapshot id, or a root
    # device type other than botocore's enum values); the AMI's snapshot deletable; RunInstances'
    # Ebs fields not read from the wire (VolumeSize, DeleteOnTermination lost) or a data volume
    # not made and attached at its device; the root volume missing from DescribeVolumes; EC2's
    # code for an HDD (st1) root (InvalidBlockDeviceMapping) lost.
    def test_ebs_ami_and_launch_volumes(self):
        img = ec2().describe_images(ImageIds=[cloud().ebs_image])["Images"][0]
        self.assertEqual(img["RootDeviceType"], "ebs")
        root = img["BlockDeviceMappings"][0]
        self.assertEqual(root["DeviceName"], "/dev/xvda")
        self.assertEqual((root["Ebs"]["VolumeSize"], root["Ebs"]["DeleteOnTermination"]),
                         (2, True))
        snap = root["Ebs"]["SnapshotId"]
        got = ec2().describe_snapshots(SnapshotIds=[snap])["Snapshots"][0]
        self.assertEqual((got["State"], got["VolumeId"]), ("completed", "vol-ffffffff"))
        self.assertEqual(code_of(ec2().delete_snapshot, SnapshotId=snap)[0],
                         "InvalidSnapshot.InUse")
        local = ec2().describe_images(ImageIds=[cloud().image])["Images"][0]
        self.assertEqual(local["RootDeviceType"], "ebs")

        r = ec2().run_instances(
            ImageId=cloud().ebs_image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
            Placement={"AvailabilityZone": "home-1a"},
            BlockDeviceMappings=[
                {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 5}},
                {"DeviceName": "/dev/sdf",
                 "Ebs": {"VolumeSize": 3, "VolumeType": "gp3", "DeleteOnTermination": False}}])
        iid = r["Instances"][0]["InstanceId"]
        self.assertEqual(r["Instances"][0]["RootDeviceType"], "ebs")
        vols = ec2().describe_volumes(
            Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
        by_device = {v["Attachments"][0]["Device"]: v for v in vols}
        self.assertEqual(sorted(by_device), ["/dev/sdf", "/dev/xvda"])
        self.assertEqual((by_device["/dev/xvda"]["Size"], by_device["/dev/xvda"]["SnapshotId"]),
                         (5, snap))
        self.assertTrue(by_device["/dev/xvda"]["Attachments"][0]["DeleteOnTermination"])
        self.assertEqual((by_device["/dev/sdf"]["Size"], by_device["/dev/sdf"]["VolumeType"]),
                         (3, "gp3"))
        self.assertFalse(by_device["/dev/sdf"]["Attachments"][0]["DeleteOnTermination"])
        ec2().terminate_instances(InstanceIds=[iid])

        self.assertEqual(code_of(ec2().run_instances, ImageId=cloud().ebs_image,
                                 InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 Placement={"AvailabilityZone": "home-1a"},
                                 BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                                                       "Ebs": {"VolumeType": "st1"}}])[0],
                         "InvalidBlockDeviceMapping")


class HibernationTest(unittest.TestCase):
    # Bug: HibernationOptions.Configured not read from the wire or refused; EC2's prerequisites
    # not checked (an unencrypted root launched: UnsupportedHibernationConfiguration);
    # describe-instances without hibernationOptions/configured; StopInstances Hibernate not read
    # (a plain stop's StateReason) or accepted for an instance launched without it
    # (UnsupportedOperation); DescribeInstanceTypes' HibernationSupported false.
    def _encrypted_ami(self):
        v = ec2().create_volume(AvailabilityZone="home-1a", Size=1, Encrypted=True)
        ec2().get_waiter("volume_available").wait(VolumeIds=[v["VolumeId"]],
                                                  WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        s = ec2().create_snapshot(VolumeId=v["VolumeId"])
        ec2().get_waiter("snapshot_completed").wait(SnapshotIds=[s["SnapshotId"]],
                                                    WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        return ec2().register_image(
            Name="hibernation-root", RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                                  "Ebs": {"SnapshotId": s["SnapshotId"]}}])["ImageId"]

    def test_hibernate_and_resume_shapes(self):
        t = ec2().describe_instance_types(InstanceTypes=["t3.micro"])["InstanceTypes"][0]
        self.assertTrue(t["HibernationSupported"])
        hib = {"HibernationOptions": {"Configured": True},
               "Placement": {"AvailabilityZone": "home-1a"}}
        # The conformance EBS AMI's root is not encrypted.
        self.assertEqual(code_of(ec2().run_instances, ImageId=cloud().ebs_image,
                                 InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                                                       "Ebs": {"VolumeSize": 8}}], **hib),
                         ("UnsupportedHibernationConfiguration", 400))
        image = self._encrypted_ami()
        r = ec2().run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                                                      "Ebs": {"VolumeSize": 2}}], **hib)
        iid = r["Instances"][0]["InstanceId"]
        plain = run_one()
        try:
            self.assertEqual(r["Instances"][0]["HibernationOptions"], {"Configured": True})
            wait("instance_running", [iid, plain])
            got = ec2().describe_instances(InstanceIds=[iid, plain])["Reservations"]
            configured = {i["InstanceId"]: i["HibernationOptions"]["Configured"]
                          for res in got for i in res["Instances"]}
            self.assertEqual(configured, {iid: True, plain: False})
            self.assertEqual(code_of(ec2().stop_instances, InstanceIds=[plain], Hibernate=True),
                             ("UnsupportedOperation", 400))
            self.assertEqual(code_of(ec2().stop_instances, InstanceIds=[iid], Hibernate=True,
                                     Force=True), ("InvalidParameterCombination", 400))
            stopping = ec2().stop_instances(InstanceIds=[iid], Hibernate=True)
            self.assertEqual(stopping["StoppingInstances"][0]["CurrentState"]["Name"], "stopping")
            wait("instance_stopped", [iid])
            i = ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
            self.assertEqual(i["StateReason"],
                             {"Code": "Client.UserInitiatedHibernate",
                              "Message": "Client.UserInitiatedHibernate: User initiated hibernate"})
            ec2().start_instances(InstanceIds=[iid])
            wait("instance_running", [iid])
        finally:
            ec2().terminate_instances(InstanceIds=[iid, plain])


def _wait_image(image_id, state="available", timeout=60):
    for _ in range(timeout * 2):
        img = ec2().describe_images(ImageIds=[image_id])["Images"][0]
        if img["State"] == state:
            return img
        time.sleep(0.5)
    raise AssertionError(f"{image_id} never {state} (last {img['State']})")


class ImageBakeTest(unittest.TestCase):
    # Bug: CreateImage / CopyImage / RegisterImage (snapshot form) not read from the wire
    # (NoReboot, Name, TagSpecification lost), their imageId not where botocore reads it; the
    # baked AMI's mapping without the snapshots of the instance's volumes; describe-instances'
    # blockDeviceMapping empty or not botocore's shape (deviceName, ebs.volumeId, status,
    # attachTime, deleteOnTermination); EC2's codes lost (UnsupportedOperation for a host-local
    # root and for RegisterImage without a snapshot,
    # InvalidAMIID.NotFound); deregister-image keeping the snapshots in use.
    def _ebs_instance(self):
        r = ec2().run_instances(
            ImageId=cloud().ebs_image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
            Placement={"AvailabilityZone": "home-1a"},
            BlockDeviceMappings=[{"DeviceName": "/dev/sdf",
                                  "Ebs": {"VolumeSize": 1, "DeleteOnTermination": False}}])
        iid = r["Instances"][0]["InstanceId"]
        wait("instance_running", [iid])
        return iid

    def test_boto3_create_copy_register_deregister(self):
        need("CreateImage", "CopyImage", "RegisterImage", "DeregisterImage")
        iid = self._ebs_instance()
        inst = ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual((inst["RootDeviceType"], inst["RootDeviceName"]), ("ebs", "/dev/xvda"))
        devices = {m["DeviceName"]: m["Ebs"] for m in inst["BlockDeviceMappings"]}
        self.assertEqual(sorted(devices), ["/dev/sdf", "/dev/xvda"])
        self.assertEqual(inst["BlockDeviceMappings"][0]["DeviceName"], "/dev/xvda")
        self.assertTrue(devices["/dev/xvda"]["VolumeId"].startswith("vol-"))
        self.assertIn(devices["/dev/xvda"]["Status"], ("attaching", "attached"))
        self.assertTrue(devices["/dev/xvda"]["DeleteOnTermination"])
        self.assertFalse(devices["/dev/sdf"]["DeleteOnTermination"])
        self.assertIn("AttachTime", devices["/dev/xvda"])

        baked = ec2().create_image(
            InstanceId=iid, Name="conf-baked", Description="baked", NoReboot=True,
            TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "k", "Value": "v"}]},
                               {"ResourceType": "snapshot",
                                "Tags": [{"Key": "s", "Value": "t"}]}])["ImageId"]
        img = _wait_image(baked)
        self.assertEqual(img["Tags"], [{"Key": "k", "Value": "v"}])
        self.assertEqual(img["RootDeviceType"], "ebs")
        maps = {m["DeviceName"]: m["Ebs"] for m in img["BlockDeviceMappings"]}
        self.assertEqual(sorted(maps), ["/dev/sdf", "/dev/xvda"])
        self.assertEqual((maps["/dev/xvda"]["VolumeSize"], maps["/dev/sdf"]["VolumeSize"]),
                         (2, 1))
        self.assertFalse(maps["/dev/sdf"]["DeleteOnTermination"])
        snaps = ec2().describe_snapshots(SnapshotIds=[maps["/dev/xvda"]["SnapshotId"]])
        snap = snaps["Snapshots"][0]
        self.assertEqual(snap["VolumeId"], devices["/dev/xvda"]["VolumeId"])
        self.assertEqual(snap["Tags"], [{"Key": "s", "Value": "t"}])
        self.assertEqual(code_of(ec2().delete_snapshot, SnapshotId=snap["SnapshotId"])[0],
                         "InvalidSnapshot.InUse")
        self.assertEqual(code_of(ec2().create_image, InstanceId=run_one(), Name="conf-local",
                                 NoReboot=True)[0], "UnsupportedOperation")

        reg = ec2().register_image(
            Name="conf-from-snap", RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                                  "Ebs": {"SnapshotId": snap["SnapshotId"]}}])["ImageId"]
        got = _wait_image(reg)
        self.assertEqual(got["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"], snap["SnapshotId"])
        self.assertEqual(code_of(ec2().register_image, Name="conf-no-snap",
                                 RootDeviceName="/dev/xvda")[0], "UnsupportedOperation")

        copy = ec2().copy_image(SourceImageId=baked, SourceRegion=cloud().region,
                                Name="conf-copy")["ImageId"]
        self.assertNotEqual(copy, baked)
        got = _wait_image(copy)
        copy_snap = {m["DeviceName"]: m["Ebs"] for m in got["BlockDeviceMappings"]}
        self.assertNotEqual(copy_snap["/dev/xvda"]["SnapshotId"], snap["SnapshotId"])
        self.assertEqual(code_of(ec2().copy_image, SourceImageId="ami-0123456789abcdef0",
                                 SourceRegion=cloud().region, Name="conf-none")[0],
                         "InvalidAMIID.NotFound")

        # Deregistering keeps the snapshots and frees them.
        for image in (copy, reg, baked):
            ec2().deregister_image(ImageId=image)
        self.assertEqual(ec2().describe_snapshots(
            SnapshotIds=[snap["SnapshotId"]])["Snapshots"][0]["State"], "completed")
        ec2().delete_snapshot(SnapshotId=snap["SnapshotId"])
        ec2().terminate_instances(InstanceIds=[iid])

    # Bug: the aws CLI v1's create-image / copy-image / register-image failing on our XML or
    # their flags (--no-reboot) not reaching the service.
    def test_aws_cli_v1(self):
        need("CreateImage", "CopyImage", "RegisterImage")
        v1 = CTX["v1"]
        iid = self._ebs_instance()
        r = v1("create-image", "--instance-id", iid, "--name", "conf-cli-baked", "--no-reboot")
        self.assertEqual(r.rc, 0, r.stderr)
        baked = r.json["ImageId"]
        img = _wait_image(baked)
        root_snap = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        r = v1("copy-image", "--source-image-id", baked, "--source-region", cloud().region,
               "--name", "conf-cli-copy")
        self.assertEqual(r.rc, 0, r.stderr)
        _wait_image(r.json["ImageId"])
        r = v1("register-image", "--name", "conf-cli-snap", "--root-device-name", "/dev/xvda",
               "--block-device-mappings",
               f"DeviceName=/dev/xvda,Ebs={{SnapshotId={root_snap}}}")
        self.assertEqual(r.rc, 0, r.stderr)
        self.assertTrue(r.json["ImageId"].startswith("ami-"))
        r = v1("describe-instances", "--instance-ids", iid)
        self.assertEqual(r.rc, 0, r.stderr)
        inst = r.json["Reservations"][0]["Instances"][0]
        self.assertEqual(inst["BlockDeviceMappings"][0]["DeviceName"], "/dev/xvda")
        ec2().terminate_instances(InstanceIds=[iid])
