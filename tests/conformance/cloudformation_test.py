#!/usr/bin/env python3
"""CloudFormation Query protocol conformance: the real aws CLI v1 (PATH), the aws CLI v2
(/usr/bin/aws, when installed) and boto3 call ValidateTemplate on query_cloud's Query endpoint
(real SigV4 over a real access key; the request is routed by its credential scope's service,
"cloudformation"). Each test names the one-line bug it catches.

  cloudformation_test.py --query-cloud build/bin/query_cloud [unittest args]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import boto3
import botocore.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qclient  # noqa: E402

CLOUD = {}

TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Description: one web server
Parameters:
  KeyName:
    Type: AWS::EC2::KeyPair::KeyName
    Description: the key to log in with
  Size:
    Type: String
    Default: t3.micro
    AllowedValues: [t3.micro, t3.small]
  Secret:
    Type: String
    NoEcho: true
    Default: hunter2
Resources:
  Web:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-12345678
      InstanceType: !Ref Size
      KeyName: !Ref KeyName
      UserData: !Base64 {'Fn::Sub': 'echo ${AWS::StackName} ${Secret}'}
Outputs:
  Ip:
    Value: !GetAtt Web.PrivateIp
"""


def cli(executable, *args):
    cloud = CLOUD["cloud"]
    home = tempfile.mkdtemp()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=home, AWS_ACCESS_KEY_ID=cloud.key, AWS_SECRET_ACCESS_KEY=cloud.secret,
                   AWS_DEFAULT_REGION=cloud.region, AWS_CONFIG_FILE=os.path.join(home, "none"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "none"), AWS_MAX_ATTEMPTS="1",
                   AWS_PAGER="")
        argv = [executable, "--endpoint-url", cloud.endpoint, "--output", "json",
                "cloudformation", *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                              cwd=home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def write(text, suffix=".yaml"):
    f = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False)
    f.write(text)
    f.close()
    return f.name


class ValidateTemplateCli(unittest.TestCase):
    clis = [("v1", "aws")] + ([("v2", qclient.AWS_V2)] if os.access(qclient.AWS_V2, os.X_OK)
                               else [])

    # Bug: the request answered as EC2's (routing by credential scope missing), or the query
    # protocol's member lists written as EC2's <item> sets, so the CLI prints no Parameters.
    def test_valid_template(self):
        path = write(TEMPLATE)
        for name, exe in self.clis:
            with self.subTest(cli=name):
                r = cli(exe, "validate-template", "--template-body", f"file://{path}")
                self.assertEqual(r.returncode, 0, r.stderr)
                out = json.loads(r.stdout)
                self.assertEqual(out["Description"], "one web server")
                params = {p["ParameterKey"]: p for p in out["Parameters"]}
                self.assertEqual(sorted(params), ["KeyName", "Secret", "Size"])
                self.assertEqual(params["KeyName"]["Description"], "the key to log in with")
                self.assertNotIn("DefaultValue", params["KeyName"])
                self.assertEqual(params["Size"]["DefaultValue"], "t3.micro")
                self.assertIs(params["Size"]["NoEcho"], False)
                # Bug: a NoEcho parameter's default printed in clear.
                self.assertIs(params["Secret"]["NoEcho"], True)
                self.assertNotEqual(params["Secret"].get("DefaultValue"), "hunter2")
        os.unlink(path)

    # Bug: a template error answered as EC2's <Response><Errors> (the CLI then prints no code)
    # or without the path of the offending value.
    def test_invalid_template(self):
        path = write(TEMPLATE.replace("ImageId:", "ImageIdd:"))
        for name, exe in self.clis:
            with self.subTest(cli=name):
                r = cli(exe, "validate-template", "--template-body", f"file://{path}")
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("ValidationError", r.stderr)
                self.assertIn("Resources.Web.Properties.ImageIdd", r.stderr)
        os.unlink(path)


class ValidateTemplateBoto3(unittest.TestCase):
    def client(self, secret=None):
        cloud = CLOUD["cloud"]
        return boto3.client("cloudformation", endpoint_url=cloud.endpoint,
                            region_name=cloud.region, aws_access_key_id=cloud.key,
                            aws_secret_access_key=secret or cloud.secret)

    # Bug: JSON templates not routed to the JSON parser, or Capabilities missing from the answer.
    def test_json_template(self):
        r = self.client().validate_template(TemplateBody=json.dumps({
            "Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}))
        self.assertEqual(r["Parameters"], [])
        self.assertEqual(r["Capabilities"], [])
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)

    # Bug: the error's code or HTTP status lost (botocore reads ErrorResponse/Error/Code).
    def test_error_shape(self):
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.client().validate_template(TemplateBody="Resources:\n  A: {Type: AWS::S3::Bucket}\n")
        err = e.exception.response
        self.assertEqual(err["Error"]["Code"], "ValidationError")
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertIn("Resources.A.Type", err["Error"]["Message"])

    # Bug: CloudFormation requests not verified (the routing skipped SigV4).
    def test_bad_signature_refused(self):
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.client(secret="wrong" * 8).validate_template(TemplateBody="{}")
        self.assertEqual(e.exception.response["Error"]["Code"], "SignatureDoesNotMatch")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--query-cloud", required=True)
    args, rest = parser.parse_known_args()
    if shutil.which("aws") is None:
        print("SKIPPED: the aws CLI v1 is not on PATH")
        return qclient.SKIP
    CLOUD["cloud"] = qclient.Cloud(args.query_cloud)
    try:
        result = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2).result
    finally:
        CLOUD["cloud"].stop()
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
