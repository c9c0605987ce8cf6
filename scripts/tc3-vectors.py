#!/usr/bin/env python3
"""TC3-HMAC-SHA256 vectors computed by the official Tencent Cloud Python SDK.

The SDK builds each request itself (headers, payload, canonical request,
string to sign, signature, Authorization); only the clock and, where a vector
says so, the JSON encoder and the Content-Type are pinned, so the output is
reproducible. `crates/minilvb-protocol/tests/tc3_vectors.rs` checks the protocol crate's signer against it.

Re-run (the output is checked in as crates/minilvb-protocol/tests/tc3_vectors.json):

    python3 -m venv /tmp/tc3-venv
    /tmp/tc3-venv/bin/pip install tencentcloud-sdk-python-common \
        tencentcloud-sdk-python-live tencentcloud-sdk-python-vod
    /tmp/tc3-venv/bin/python scripts/tc3-vectors.py > crates/minilvb-protocol/tests/tc3_vectors.json
"""

import json
import sys

import tencentcloud
from tencentcloud.common import abstract_client, credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.live.v20180801 import live_client
from tencentcloud.vod.v20180717 import vod_client

JSON_UTF8 = "application/json; charset=utf-8"

# Requests as minilvb sends them: serde_json's compact form, raw UTF-8.
COMPACT = {"separators": (",", ":"), "ensure_ascii": False}
# The SDK's own default encoding: spaces after separators, \uXXXX escapes.
SDK_DEFAULT = {}

VECTORS = [
    {
        "name": "live DropLiveStream on the public host",
        "client": "live",
        "host": "live.tencentcloudapi.com",
        "region": None,
        "timestamp": 1700000000,
        "action": "DropLiveStream",
        "params": {"DomainName": "8888.livepush.myqcloud.com", "AppName": "live", "StreamName": "8888_user_1_x"},
        "encoding": COMPACT,
        "content_type": JSON_UTF8,
    },
    {
        "name": "live ForbidLiveStream with ResumeTime and a non-ASCII Reason, just before a UTC midnight",
        "client": "live",
        "host": "live.tencentcloudapi.com",
        "region": "ap-guangzhou",
        "timestamp": 1704067199,
        "action": "ForbidLiveStream",
        "params": {
            "DomainName": "8888.livepush.myqcloud.com",
            "AppName": "live",
            "StreamName": "8888_anchor",
            "ResumeTime": "2024-01-08T00:00:00Z",
            "Reason": "违规内容 — reported by an operator",
        },
        "encoding": COMPACT,
        "content_type": JSON_UTF8,
    },
    {
        "name": "live DescribeLiveStreamOnlineList on a local host with a port",
        "client": "live",
        "host": "127.0.0.1:18080",
        "region": None,
        "timestamp": 1704067200,
        "action": "DescribeLiveStreamOnlineList",
        "params": {"DomainName": "8888.livepush.myqcloud.com", "AppName": "live", "PageNum": 2, "PageSize": 100},
        "encoding": COMPACT,
        "content_type": JSON_UTF8,
    },
    {
        "name": "vod DeleteMedia with SubAppId",
        "client": "vod",
        "host": "vod.tencentcloudapi.com",
        "region": None,
        "timestamp": 1551113065,
        "action": "DeleteMedia",
        "params": {"FileId": "5285890784246869930", "SubAppId": 1500000001},
        "encoding": COMPACT,
        "content_type": JSON_UTF8,
    },
    {
        "name": "live ResumeLiveStream encoded and typed as the SDK does by default",
        "client": "live",
        "host": "live.tencentcloudapi.com",
        "region": None,
        "timestamp": 1609459200,
        "action": "ResumeLiveStream",
        "params": {"DomainName": "8888.livepush.myqcloud.com", "AppName": "live", "StreamName": "主播_1"},
        "encoding": SDK_DEFAULT,
        "content_type": "application/json",
    },
]

SECRET_ID = "AKIDminilvbVECTORS0000000000000000000"
SECRET_KEY = "minilvbVectorsSecretKey000000000000"


class PinnedClock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


class PinnedJson:
    def __init__(self, encoding):
        self.encoding = encoding

    def dumps(self, value):
        return json.dumps(value, **self.encoding)


def build(vector):
    captured = {}
    real_sign_tc3 = Sign.sign_tc3

    def capture_sign_tc3(secret_key, date, service, str2sign):
        captured["string_to_sign"] = str2sign
        return real_sign_tc3(secret_key, date, service, str2sign)

    abstract_client.time = PinnedClock(vector["timestamp"])
    abstract_client.json = PinnedJson(vector["encoding"])
    abstract_client._json_content = vector["content_type"]
    Sign.sign_tc3 = staticmethod(capture_sign_tc3)
    try:
        profile = ClientProfile(httpProfile=HttpProfile(endpoint=vector["host"], reqMethod="POST"))
        cred = credential.Credential(SECRET_ID, SECRET_KEY)
        cls = live_client.LiveClient if vector["client"] == "live" else vod_client.VodClient
        client = cls(cred, vector["region"], profile)
        req = RequestInternal(vector["host"], "POST", "/")
        client._build_req_inter(vector["action"], vector["params"], req)
    finally:
        abstract_client.time = __import__("time")
        abstract_client.json = json
        Sign.sign_tc3 = staticmethod(real_sign_tc3)

    return {
        "name": vector["name"],
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "service": client._service,
        "host": req.header["Host"],
        "content_type": req.header["Content-Type"],
        "timestamp": int(req.header["X-TC-Timestamp"]),
        "action": req.header["X-TC-Action"],
        "version": req.header["X-TC-Version"],
        "region": req.header.get("X-TC-Region"),
        "payload": req.data,
        "string_to_sign": captured["string_to_sign"],
        "authorization": req.header["Authorization"],
    }


def main():
    out = {
        "generator": "scripts/tc3-vectors.py",
        "sdk": "tencentcloud-sdk-python-common " + tencentcloud.__version__,
        "vectors": [build(v) for v in VECTORS],
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
