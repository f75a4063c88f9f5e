"""Helpers of the EC2 Query conformance suite: the cloud under test (query_cloud), a moto server,
the three real clients (aws CLI v1 on PATH, aws CLI v2 at /usr/bin/aws, boto3), raw SigV4 requests
(botocore's signer) and the element paths of an XML response."""

import base64
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from unittest import mock

import boto3
import botocore.auth
import botocore.config
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AWS_V2 = "/usr/bin/aws"
SKIP = 77


class Cloud:
    """query_cloud as a child process; `info` is the JSON line it prints."""

    def __init__(self, binary, hosts=2, extra=()):
        self.proc = subprocess.Popen([binary, "--hosts", str(hosts), *extra], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{binary} exited with {self.proc.wait()} before it was ready")
        self.info = json.loads(line)
        self.endpoint = self.info["endpoint"]
        self.region = self.info["region"]
        self.key = self.info["access_key_id"]
        self.secret = self.info["secret_access_key"]
        self.image = self.info["image_id"]
        self.actions = set(self.info["actions"])

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """`python3 -m moto.server` on a free loopback port."""

    def __init__(self):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                      "-p", str(self.port)], stdout=self.log, stderr=self.log)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.region = "us-east-1"
        self.key, self.secret = "AKIAMOTOTESTKEY00001", "moto-secret"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1)
                return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("moto.server did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def boto3_client(target, **config):
    return boto3.session.Session().client(
        "ec2", endpoint_url=target.endpoint, region_name=target.region,
        aws_access_key_id=target.key, aws_secret_access_key=target.secret,
        config=botocore.config.Config(retries={"max_attempts": 1}, **config))


class CliResult:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.json = json.loads(proc.stdout) if proc.stdout.strip() else None
        except json.JSONDecodeError:
            self.json = None

    def error_code(self):
        # "An error occurred (InvalidInstanceID.NotFound) when calling ..."
        marker = "An error occurred ("
        i = self.stderr.find(marker)
        return self.stderr[i + len(marker):self.stderr.find(")", i)] if i >= 0 else None


class AwsCli:
    """One aws CLI (v1 or v2) pointed at `target` the way a user does: v1 through
    AWS_ENDPOINT_URL_EC2, v2 2.9 (which ignores it) with --endpoint-url."""

    def __init__(self, executable, target, use_endpoint_flag):
        self.executable = executable
        self.target = target
        self.use_endpoint_flag = use_endpoint_flag
        self.home = tempfile.mkdtemp()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(HOME=self.home, AWS_ACCESS_KEY_ID=target.key,
                        AWS_SECRET_ACCESS_KEY=target.secret, AWS_DEFAULT_REGION=target.region,
                        AWS_CONFIG_FILE=os.path.join(self.home, "none"),
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.home, "none"),
                        AWS_MAX_ATTEMPTS="1", AWS_PAGER="")
        if not use_endpoint_flag:
            self.env["AWS_ENDPOINT_URL_EC2"] = target.endpoint
        self.called = []  # operation names (CLI verbs)

    def __call__(self, *args, timeout=300):
        argv = [self.executable]
        if self.use_endpoint_flag:
            argv += ["--endpoint-url", self.target.endpoint]
        argv += ["--output", "json", "ec2", *args]
        self.called.append(args[0] if args[0] != "wait" else "describe-instances")
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        return CliResult(proc)

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


def cli_verb_to_action(verb):
    return "".join(part.capitalize() for part in verb.split("-"))


class RawResponse:
    def __init__(self, status, body):
        self.status = status
        self.body = body
        try:
            self.xml = ET.fromstring(body)
        except ET.ParseError:
            self.xml = None  # not XML (a server's HTML error page, say)

    def error_code(self):
        if self.xml is None:
            return None
        code = self.xml.find("./Errors/Error/Code")
        return code.text if code is not None else None


def raw(target, params, *, key=None, secret=None, sign=True, signed_at=None, method="POST",
        headers=None, version="2016-11-15"):
    """One Query request signed by botocore's own SigV4 signer (or not signed at all)."""
    params = dict(params)
    if version is not None:
        params.setdefault("Version", version)
    body = urllib.parse.urlencode(params)
    url = target.endpoint + "/"
    if method == "GET":
        url, body = url + "?" + body, None
    req = AWSRequest(method=method, url=url, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})})
    if sign:
        creds = Credentials(key or target.key, secret or target.secret)
        if signed_at is not None:
            with mock.patch.object(botocore.auth, "get_current_datetime",
                                   return_value=signed_at):
                SigV4Auth(creds, "ec2", target.region).add_auth(req)
        else:
            SigV4Auth(creds, "ec2", target.region).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body.encode() if isinstance(
        prepared.body, str) else prepared.body, method=method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return RawResponse(resp.status, resp.read())
    except urllib.error.HTTPError as e:
        return RawResponse(e.code, e.read())


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def element_paths(xml_bytes):
    """The set of element paths of a response, namespace stripped, list members as `item`
    (values and the order of members ignored): what 'the same shape' means here."""
    root = ET.fromstring(xml_bytes)
    paths = set()

    def walk(node, prefix):
        tag = node.tag.split("}")[-1]
        path = f"{prefix}/{tag}" if prefix else tag
        paths.add(path)
        for child in node:
            walk(child, path)

    walk(root, "")
    return paths


def b64(text):
    return base64.b64encode(text.encode()).decode()
