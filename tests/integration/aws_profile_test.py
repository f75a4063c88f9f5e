#!/usr/bin/env python3
"""deploy/aws-profile against real config files and the real aws CLI v1, aws CLI v2 and boto3.

Each case names the one-line bug it catches. The endpoint is a loopback HTTP server that records
which requests reach it, so "the profile points the client here" is observed, not assumed.
"""

import http.server
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOL = os.path.join(REPO, "deploy", "aws-profile")
AWS_V2 = "/usr/bin/aws"

USER_CONFIG = """# my own settings, keep this comment
[default]
region = eu-west-1
output = json

[profile work]
region = us-east-1
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default

[services work]
s3 =
  endpoint_url = http://s3.example
"""


class Recorder(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        Recorder.hits.append((self.path, self.rfile.read(length).decode()))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


class AwsProfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.url = f"http://127.0.0.1:{cls.server.server_port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.config = os.path.join(self.dir, "config")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def tool(self, *args, owner="/var/lib/minicloud/a", check=True):
        cmd = [TOOL, *args, "--config", self.config]
        if owner:
            cmd += ["--owner", owner]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def set(self, owner="/var/lib/minicloud/a", check=True, key="AKIAMINICLOUDTEST01"):
        return self.tool("set", "--endpoint", self.url, "--region", "home-1", "--access-key-id",
                         key, "--secret-access-key", "s3cr3t/s3cr3t+s3cr3t", owner=owner,
                         check=check)

    def read(self):
        with open(self.config) as f:
            return f.read()

    def client_env(self):
        env = dict(os.environ, AWS_CONFIG_FILE=self.config,
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.dir, "none"),
                   AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
                     "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL",
                     "AWS_ENDPOINT_URL_EC2"):
            env.pop(name, None)
        return env

    def run_client(self, argv):
        before = len(Recorder.hits)
        subprocess.run(argv, env=self.client_env(), capture_output=True, text=True, timeout=60)
        return Recorder.hits[before:]

    # Bug: the profile written to a file other accounts can read (default umask 0644).
    def test_creates_file_0600(self):
        self.set()
        self.assertEqual(stat.S_IMODE(os.stat(self.config).st_mode), 0o600)
        self.assertIn("[profile minicloud]", self.read())
        self.assertIn(f"  endpoint_url = {self.url}", self.read())

    # Bug: configparser's write() used for the whole file (drops comments, reorders keys).
    def test_keeps_other_sections_and_comments_byte_for_byte(self):
        with open(self.config, "w") as f:
            f.write(USER_CONFIG)
        self.set()
        self.assertTrue(self.read().startswith(USER_CONFIG))
        self.tool("remove")
        self.assertEqual(self.read(), USER_CONFIG)

    # Bug: `set` appending a second [profile minicloud] instead of replacing its own.
    def test_set_twice_replaces(self):
        self.set(key="AKIAFIRSTKEY0000001")
        self.set(key="AKIASECONDKEY000002")
        text = self.read()
        self.assertEqual(text.count("[profile minicloud]"), 1)
        self.assertEqual(text.count("[services minicloud]"), 1)
        self.assertIn("AKIASECONDKEY000002", text)
        self.assertNotIn("AKIAFIRSTKEY0000001", text)

    # Bug: a user's own [profile minicloud] overwritten (or removed by `down`).
    def test_never_touches_a_profile_it_did_not_write(self):
        mine = USER_CONFIG + "\n[profile minicloud]\nregion = mine\n"
        with open(self.config, "w") as f:
            f.write(mine)
        r = self.set(check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("did not write", r.stderr)
        self.tool("remove")
        self.assertEqual(self.read(), mine)

    # Bug: `down` of one cloud removing the profile another running cloud wrote.
    def test_remove_keeps_another_clouds_profile(self):
        self.set(owner="/var/lib/minicloud/a")
        written = self.read()
        self.tool("remove", owner="/var/lib/minicloud/b")
        self.assertEqual(self.read(), written)
        r = self.set(owner="/var/lib/minicloud/b", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.tool("remove", owner="/var/lib/minicloud/a")
        self.assertFalse(os.path.exists(self.config))  # it created the file; it removes it

    # Bug: an unparsable config rewritten (and the user's settings lost).
    def test_refuses_invalid_file(self):
        with open(self.config, "w") as f:
            f.write("this is = not\n[unterminated\n")
        r = self.set(check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.read(), "this is = not\n[unterminated\n")

    # Bug: a value with a newline injecting a section of its own.
    def test_refuses_multiline_values(self):
        r = self.tool("set", "--endpoint", self.url + "\n[profile default]", "--region", "home-1",
                      "--access-key-id", "A", "--secret-access-key", "S", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(self.config))

    # Bug: the endpoint written in a form the aws CLI v1 does not read (it would call AWS).
    def test_aws_cli_v1_uses_the_profile(self):
        self.set()
        hits = self.run_client(["aws", "--profile", "minicloud", "ec2", "describe-instances"])
        self.assertTrue(hits, "aws CLI v1 did not reach the profile's endpoint")
        self.assertIn("Action=DescribeInstances", hits[0][1])

    # Bug: the endpoint written in a form boto3 does not read.
    def test_boto3_uses_the_profile(self):
        self.set()
        code = ("import boto3\n"
                "try: boto3.Session(profile_name='minicloud').client('ec2').describe_regions()\n"
                "except Exception: pass\n")
        hits = self.run_client([sys.executable, "-c", code])
        self.assertTrue(hits, "boto3 did not reach the profile's endpoint")
        self.assertIn("Action=DescribeRegions", hits[0][1])

    # Documents the aws CLI v2 2.9 limit the README states: it ignores service endpoints in the
    # config (added in 2.13), so it needs --endpoint-url. Bug caught: README advice gone stale
    # (this fails once the installed v2 honours the profile, and the README must change).
    def test_aws_cli_v2_2_9_needs_endpoint_url(self):
        if not os.access(AWS_V2, os.X_OK):
            self.skipTest("no /usr/bin/aws")
        self.set()
        version = subprocess.run([AWS_V2, "--version"], capture_output=True, text=True).stdout
        hits = self.run_client([AWS_V2, "--profile", "minicloud", "ec2", "describe-instances",
                                "--cli-connect-timeout", "1"])
        if version.startswith("aws-cli/2.9."):
            self.assertFalse(hits)
        hits = self.run_client([AWS_V2, "--profile", "minicloud", "--endpoint-url", self.url,
                                "ec2", "describe-instances"])
        self.assertTrue(hits, "aws CLI v2 with --endpoint-url did not reach the endpoint")


if __name__ == "__main__":
    if not shutil.which("aws"):
        print("SKIP: no aws CLI on PATH")
        sys.exit(77)
    unittest.main()
