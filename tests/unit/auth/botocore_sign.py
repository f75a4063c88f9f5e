#!/usr/bin/env python3
"""Signs a fixed set of requests with botocore's own SigV4 signers and prints them as JSON.

The output is tests/unit/auth/botocore_fixtures.json (regenerate with
`python3 tests/unit/auth/botocore_sign.py > tests/unit/auth/botocore_fixtures.json`); the
verifier's tests check that every request verifies, and the live test runs this script again
with the installed botocore. Each case: method, path and raw query as sent, headers as sent
(Host included), body in base64, the key and secret, the region and service, and the time the
signer used (the verifier's clock is set to it).
"""
import base64
import datetime
import json
import sys
from urllib.parse import urlsplit

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NOW = datetime.datetime(2026, 12, 4, 16, 0, 0)
KEY = "AKIAMINICLOUDTEST234"
SECRET = "mc/SecretForTests+0123456789abcdefghijKLM"
REGION = "minicloud-1"


def sign(name, method, url, *, headers=None, data=b"", service="ec2", presign=False,
         expires=300):
    botocore.auth.get_current_datetime = lambda: NOW
    creds = Credentials(KEY, SECRET)
    split = urlsplit(url)
    hdrs = {"Host": split.netloc}
    hdrs.update(headers or {})
    req = AWSRequest(method=method, url=url, headers=hdrs, data=data)
    if presign:
        botocore.auth.SigV4QueryAuth(creds, service, REGION, expires=expires).add_auth(req)
    else:
        botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
    prepared = req.prepare()
    sent = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return {
        "name": name,
        "method": prepared.method,
        "path": sent.path,
        "query": sent.query,
        "headers": [[k, v if isinstance(v, str) else v.decode()]
                    for k, v in prepared.headers.items()],
        "body_b64": base64.b64encode(body).decode(),
        "access_key_id": KEY,
        "secret_access_key": SECRET,
        "region": REGION,
        "service": service,
        "now_unix": int(NOW.replace(tzinfo=datetime.timezone.utc).timestamp()),
    }


def main():
    host = "ec2.minicloud.test:8773"
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    cases = [
        sign("post form", "POST", f"http://{host}/", headers=form,
             data=b"Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0"),
        sign("get with encoded query", "GET",
             f"http://{host}/?Version=2016-11-15&Action=DescribeInstances"
             "&Filter.1.Name=tag%3AName&Filter.1.Value.1=web%20server%2A&Filter.1.Value.2=%C3%A9"),
        sign("path with dot segments and escapes", "GET",
             f"http://{host}/a/./b%20c/../d~e/%2Ff?Action=DescribeRegions&Version=2016-11-15"),
        sign("header whitespace trimmed", "POST", f"http://{host}/",
             headers={**form, "X-Custom": "  several   spaces\tand tab  "},
             data=b"Action=DescribeRegions&Version=2016-11-15"),
        sign("grpc method path and binary body", "POST",
             f"http://{host}/minicloud.v1.ComputeService/DescribeInstances",
             data=bytes(range(256))),
        sign("presigned get", "GET",
             f"http://{host}/?Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1",
             presign=True, expires=300),
        sign("presigned longest expiry", "GET",
             f"http://{host}/?Action=DescribeRegions&Version=2016-11-15",
             presign=True, expires=604800),
    ]
    json.dump(cases, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
