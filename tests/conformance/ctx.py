"""The one cloud and the clients every conformance case shares, and small helpers."""

import os
import unittest

import botocore.exceptions

import qclient
from qclient import raw

CTX = {}  # cloud, boto3, v1, v2 (None without /usr/bin/aws)
EXERCISED = set()
USER_DATA = "#!/bin/sh\necho conformance-user-data\n"


def cloud():
    return CTX["cloud"]


def ec2():
    return CTX["boto3"]


def need(*actions):
    missing = [a for a in actions if a not in cloud().actions]
    if missing:
        raise unittest.SkipTest(f"not in the Query API's action table yet: {', '.join(missing)}")


def call(action, params=None, **kw):
    EXERCISED.add(action)
    return raw(cloud(), {"Action": action, **(params or {})}, **kw)


def code_of(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def run_one(**extra):
    r = ec2().run_instances(ImageId=cloud().image, InstanceType="t3.micro", MinCount=1,
                            MaxCount=1, **extra)
    return r["Instances"][0]["InstanceId"]


def wait(name, ids, timeout=60):
    ec2().get_waiter(name).wait(InstanceIds=ids,
                                WaiterConfig={"Delay": 1, "MaxAttempts": timeout})


def start(binary):
    # Status checks pass 2 s after running (the controller's default is 30 s): the clients
    # wait for them on the machine's clock.
    CTX["cloud"] = qclient.Cloud(binary, extra=("--status-check-grace-seconds", "2"))
    CTX["boto3"] = qclient.boto3_client(cloud())
    CTX["boto3"].meta.events.register("before-call.ec2",
                                      lambda model, **_: EXERCISED.add(model.name))
    CTX["v1"] = qclient.AwsCli("aws", cloud(), use_endpoint_flag=False)
    v2 = os.access(qclient.AWS_V2, os.X_OK)
    CTX["v2"] = qclient.AwsCli(qclient.AWS_V2, cloud(), use_endpoint_flag=True) if v2 else None


def stop():
    for name in ("v1", "v2"):
        if CTX.get(name):
            EXERCISED.update(qclient.cli_verb_to_action(v) for v in CTX[name].called)
            CTX[name].cleanup()
    if "cloud" in CTX:
        CTX["cloud"].stop()




def skip_if_unwired(fn, *args, what, **kwargs):
    """Skips (with `what` named) when the Query API refuses a parameter EC2 has because it is not
    wired yet (UnknownParameter); any other answer is for the test to judge."""
    code, _ = code_of(fn, *args, **kwargs)
    if code == "UnknownParameter":
        raise unittest.SkipTest(f"not wired into the Query API yet: {what}")
