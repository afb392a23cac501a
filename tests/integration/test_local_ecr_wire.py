"""The local ECR on the wire, as ECR answers (issue 18): each test shows one answer a client sees, with
`requests` and the stack's CA bundle. README's "The local ECR" table cites where each behaviour comes from."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import boto3
import pytest
import requests

pytestmark = pytest.mark.integration

ACCOUNT, REGION, OTHER_REGION = "123456789012", "ca-west-1", "us-east-1"
EXPIRED = "Your authorization token has expired. Reauthenticate and try again."
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Wire:
    """One registry of the stack (an account in a region), spoken to directly."""

    def __init__(self, stack: Any, account: str = ACCOUNT, region: str = REGION) -> None:
        self.stack = stack
        self.url = stack.registry_url(account, region)
        self.auth = ("AWS", stack.password(account, region))
        self.verify = stack.ca_bundle

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("auth", self.auth)
        kwargs.setdefault("timeout", 30)
        url = path if path.startswith("http") else self.url + path
        return requests.request(method, url, verify=self.verify, **kwargs)

    def location(self, reply: requests.Response) -> str:
        where = reply.headers["Location"]
        return where if where.startswith("http") else self.url + where

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        started = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert started.status_code == 202, started.text
        done = self.request("PUT", self.location(started), params={"digest": digest}, data=data)
        assert done.status_code == 201, done.text
        return digest

    def image(self, repo: str, tag: str, *, subject: dict[str, Any] | None = None, artifact: str = "") -> bytes:
        """An OCI image of one small layer put as REPO:TAG (by digest when TAG is empty); its manifest's bytes."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag, "n": uuid.uuid4().hex}).encode()
        layer = uuid.uuid4().bytes * 64
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": artifact or "application/vnd.oci.image.config.v1+json",
                "digest": self.put_blob(repo, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": self.put_blob(repo, layer),
                    "size": len(layer),
                }
            ],
        }
        if subject is not None:
            doc["subject"] = subject
        if artifact:
            doc["artifactType"] = artifact
        data = json.dumps(doc).encode()
        reply = self.put_manifest(repo, tag or digest_of(data), data)
        assert reply.status_code == 201, reply.text
        return data

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str = OCI_MANIFEST) -> requests.Response:
        return self.request("PUT", f"/v2/{repo}/manifests/{reference}", data=data, headers={"Content-Type": media_type})


@pytest.fixture(scope="module")
def tls_stack(stack: Any) -> Any:
    if stack.plain:
        pytest.skip("ECR's names over TLS: the shared stack, not a plain one")
    return stack


@pytest.fixture(scope="module")
def ecr(tls_stack: Any) -> Any:
    env = tls_stack.env
    return boto3.client(
        "ecr",
        region_name=REGION,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        verify=env["AWS_CA_BUNDLE"],
    )


@pytest.fixture
def repo(ecr: Any) -> Iterator[str]:
    name = f"wire/{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=name)
    yield name
    ecr.delete_repository(repositoryName=name, force=True)


@pytest.fixture
def wire(tls_stack: Any) -> Wire:
    return Wire(tls_stack)


# -- a dead token: 403 DENIED, no challenge -------------------------------------------------------------


def test_no_credentials_get_401_with_ecrs_basic_challenge(wire: Wire) -> None:
    reply = wire.request("GET", "/v2/", auth=None)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == f'Basic realm="{wire.url}/",service="ecr.amazonaws.com"'


@pytest.mark.parametrize("how", ["revoked", "foreign", "forged"])
def test_a_token_that_does_not_open_the_registry_gets_403_denied_without_a_challenge(
    tls_stack: Any, wire: Wire, repo: str, how: str
) -> None:
    if how == "revoked":
        tls_stack.control("rotate-password", {})
    elif how == "foreign":
        wire.auth = ("AWS", tls_stack.password(ACCOUNT, OTHER_REGION))  # the same account's other region
    else:
        wire.auth = ("AWS", "not-a-token")
    for method, path in [("GET", "/v2/"), ("GET", f"/v2/{repo}/tags/list"), ("HEAD", f"/v2/{repo}/manifests/x")]:
        reply = wire.request(method, path)
        assert reply.status_code == 403, (method, path)
        assert "WWW-Authenticate" not in reply.headers
        if method == "GET":
            assert reply.json() == {"errors": [{"code": "DENIED", "message": EXPIRED}]}


# -- blobs from S3: 307 to a presigned URL on the region's layer bucket ------------------------------


def _bucket(region: str = REGION) -> str:
    return f"prod-{region}-starport-layer-bucket.s3.{region}.amazonaws.com"


def _redirect(wire: Wire, repo: str, digest: str) -> str:
    reply = wire.request("GET", f"/v2/{repo}/blobs/{digest}", allow_redirects=False)
    assert reply.status_code == 307, reply.text
    return reply.headers["Location"]


def test_a_blob_get_is_a_307_to_a_presigned_url_on_the_regions_layer_bucket(wire: Wire, repo: str) -> None:
    data = uuid.uuid4().bytes * 1000
    digest = wire.put_blob(repo, data)
    where = _redirect(wire, repo, digest)
    url = urllib.parse.urlsplit(where)
    assert (url.scheme, url.hostname) == ("https", _bucket())
    query = dict(urllib.parse.parse_qsl(url.query))
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and query["X-Amz-Expires"] == "1200"
    assert query["X-Amz-SignedHeaders"] == "host" and query["X-Amz-Credential"].endswith(f"/{REGION}/s3/aws4_request")
    assert {"X-Amz-Date", "X-Amz-Signature"} <= set(query)
    # the URL alone opens it (no Authorization), with its length; a Range is honoured
    got = requests.get(where, verify=wire.verify, timeout=30)
    assert got.status_code == 200 and got.content == data and got.headers["Content-Length"] == str(len(data))
    part = requests.get(where, headers={"Range": "bytes=0-9"}, verify=wire.verify, timeout=30)
    assert part.status_code == 206 and part.content == data[:10]
    # following the redirect, as a client that drops Authorization to another host does, ends in the bytes
    assert wire.request("GET", f"/v2/{repo}/blobs/{digest}", auth=wire.auth).content == data
    # HEAD is the registry's own answer, no redirect; a blob the repository lacks is its 404
    head = wire.request("HEAD", f"/v2/{repo}/blobs/{digest}", allow_redirects=False)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    missing = wire.request("GET", f"/v2/{repo}/blobs/{digest_of(b'none')}", allow_redirects=False)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_s3_refuses_the_presigned_url_with_an_authorization_header_too(wire: Wire, repo: str) -> None:
    where = _redirect(wire, repo, wire.put_blob(repo, b"two auth mechanisms"))
    refused = requests.get(where, auth=wire.auth, verify=wire.verify, timeout=30)
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/xml"
    error = ElementTree.fromstring(refused.content)
    assert error.findtext("Code") == "InvalidArgument"
    assert error.findtext("Message") == (
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
        "parameter or the Authorization header should be specified"
    )


def test_s3_refuses_an_altered_or_expired_url_with_403(tls_stack: Any, wire: Wire, repo: str) -> None:
    digest = wire.put_blob(repo, b"short-lived")
    where = _redirect(wire, repo, digest)
    other = wire.put_blob(repo, b"another blob")
    for altered in (where.replace(digest[7:], other[7:]), where.replace("X-Amz-Expires=1200", "X-Amz-Expires=9999")):
        refused = requests.get(altered, verify=wire.verify, timeout=30)
        assert refused.status_code == 403
        assert ElementTree.fromstring(refused.content).findtext("Code") == "SignatureDoesNotMatch"
    assert requests.head(where, verify=wire.verify, timeout=30).status_code == 403  # signed for a GET
    tls_stack.control("s3", {"ttl": 1})
    try:
        brief = _redirect(wire, repo, digest)
        assert "X-Amz-Expires=1&" in brief or brief.endswith("X-Amz-Expires=1")
        time.sleep(2.1)
        expired = requests.get(brief, verify=wire.verify, timeout=30)
        assert expired.status_code == 403
        error = ElementTree.fromstring(expired.content)
        assert (error.findtext("Code"), error.findtext("Message")) == ("AccessDenied", "Request has expired")
    finally:
        tls_stack.control("s3", {"reset": True})
    assert requests.get(where, verify=wire.verify, timeout=30).content == b"short-lived"  # the first still lasts


# -- uploads: PATCH answered 201, its Range stuck at the first chunk ------------------------------------


def test_a_patch_is_answered_201_and_its_range_stays_at_the_first_chunk(wire: Wire, repo: str) -> None:
    chunks = [b"\x01" * 1000, b"\x02" * 1000, b"\x03" * 500]
    data = b"".join(chunks)
    started = wire.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202
    where, offset, ranges = wire.location(started), 0, []
    for chunk in chunks[:2]:
        headers = {"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{offset + len(chunk) - 1}"}
        patched = wire.request("PATCH", where, data=chunk, headers=headers)
        assert patched.status_code == 201, patched.text  # ECR's, not the distribution spec's 202
        ranges.append(patched.headers["Range"])
        where, offset = wire.location(patched), offset + len(chunk)
    assert ranges == ["0-999", "0-999"]  # stuck at the first PATCH's end, though the bytes are kept
    done = wire.request("PUT", where, params={"digest": digest_of(data)}, data=chunks[2])
    assert done.status_code == 201, done.text
    assert wire.request("GET", f"/v2/{repo}/blobs/{digest_of(data)}").content == data


def test_post_then_put_with_the_body_is_one_upload(wire: Wire, repo: str) -> None:
    data = uuid.uuid4().bytes * 100
    started = wire.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202 and started.headers["Location"]
    done = wire.request("PUT", wire.location(started), params={"digest": digest_of(data)}, data=data)
    assert done.status_code == 201 and done.headers["Docker-Content-Digest"] == digest_of(data)


# -- cross-repository mounts: only with BLOB_MOUNTING enabled, within one registry ----------------------


@pytest.fixture
def mounting(ecr: Any) -> Iterator[Any]:
    before = ecr.get_account_setting(name="BLOB_MOUNTING")["value"]
    yield ecr
    ecr.put_account_setting(name="BLOB_MOUNTING", value=before)


def test_a_mount_is_honoured_only_with_blob_mounting_enabled(tls_stack: Any, wire: Wire, mounting: Any) -> None:
    ecr = mounting
    source, target = f"wire/{uuid.uuid4().hex[:10]}", f"wire/{uuid.uuid4().hex[:10]}"
    for name in (source, target):
        ecr.create_repository(repositoryName=name)
    try:
        digest = wire.put_blob(source, uuid.uuid4().bytes * 10)
        mount = f"/v2/{target}/blobs/uploads/?mount={digest}&from={source}"
        ecr.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
        assert ecr.get_account_setting(name="BLOB_MOUNTING") | {"ResponseMetadata": None} == {
            "name": "BLOB_MOUNTING",
            "value": "DISABLED",
            "ResponseMetadata": None,
        }
        declined = wire.request("POST", mount)
        assert declined.status_code == 202 and "/blobs/uploads/" in declined.headers["Location"]  # an upload
        assert wire.request("HEAD", f"/v2/{target}/blobs/{digest}").status_code == 404
        # another region's registry of the same account does not mount from this one, enabled or not
        east = Wire(tls_stack, region=OTHER_REGION)
        assert east.request("POST", mount).status_code in (202, 404)
        ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
        mounted = wire.request("POST", mount)
        assert mounted.status_code == 201 and mounted.headers["Docker-Content-Digest"] == digest
        assert wire.request("HEAD", f"/v2/{target}/blobs/{digest}").status_code == 200
        with pytest.raises(ecr.exceptions.ValidationException):
            ecr.put_account_setting(name="BLOB_MOUNTING", value="SOMETIMES")
    finally:
        for name in (source, target):
            ecr.delete_repository(repositoryName=name, force=True)


# -- the OCI 1.1 referrers API ----------------------------------------------------------------------------


def _descriptor(data: bytes, media_type: str = OCI_MANIFEST) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}


@pytest.fixture
def referrers(tls_stack: Any) -> Iterator[Any]:
    """The referrers API on (and after the test as `up` left it), setting the page size."""
    tls_stack.control("referrers", {"enabled": True})
    yield lambda size: tls_stack.control("referrers", {"page_size": size})
    tls_stack.control("referrers", {"reset": True})


def test_referrers_list_the_manifests_whose_subject_is_the_digest(wire: Wire, repo: str, referrers: Any) -> None:
    subject = wire.image(repo, "app")
    signature = "application/vnd.dev.cosign.artifact.sig.v1+json"
    sbom = "application/spdx+json"
    # a signature and an SBOM put by digest, each with an artifactType
    signed = wire.image(repo, "", subject=_descriptor(subject), artifact=signature)
    typed = wire.image(repo, "", subject=_descriptor(subject), artifact=sbom)
    doc = json.loads(typed)
    doc.pop("artifactType")  # the same, but its type is only its config's mediaType, with annotations
    doc["annotations"] = {"org.opencontainers.image.created": "2024-06-27T00:00:00Z"}
    described = json.dumps(doc).encode()
    put = wire.put_manifest(repo, digest_of(described), described)
    assert put.status_code == 201 and put.headers["OCI-Subject"] == digest_of(subject)  # a PUT with a subject
    assert "OCI-Subject" not in wire.put_manifest(repo, "plain", wire.image(repo, "other")).headers
    wire.image(repo, "", subject=_descriptor(signed), artifact=signature)  # refers to the signature, not the app

    reply = wire.request("GET", f"/v2/{repo}/referrers/{digest_of(subject)}")
    assert reply.status_code == 200 and reply.headers["Content-Type"] == OCI_INDEX
    assert "OCI-Filters-Applied" not in reply.headers and "Link" not in reply.headers
    index = reply.json()
    assert (index["schemaVersion"], index["mediaType"]) == (2, OCI_INDEX)
    expected = [
        {**_descriptor(described), "artifactType": sbom, "annotations": doc["annotations"]},
        {**_descriptor(typed), "artifactType": sbom},
        {**_descriptor(signed), "artifactType": signature},
    ]
    assert sorted(index["manifests"], key=lambda e: e["digest"]) == sorted(expected, key=lambda e: e["digest"])
    filtered = wire.request("GET", f"/v2/{repo}/referrers/{digest_of(subject)}", params={"artifactType": signature})
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [e["digest"] for e in filtered.json()["manifests"]] == [digest_of(signed)]
    # a digest nothing refers to: an empty index, not a 404; a malformed one: 400
    none = wire.request("GET", f"/v2/{repo}/referrers/{digest_of(b'nothing')}")
    assert none.status_code == 200 and none.json()["manifests"] == []
    assert wire.request("GET", f"/v2/{repo}/referrers/sha256:nope").status_code == 400


def test_referrers_page_with_a_link_header(wire: Wire, repo: str, referrers: Any) -> None:
    subject = wire.image(repo, "app")
    made = {digest_of(wire.image(repo, "", subject=_descriptor(subject), artifact="application/x.a")) for _ in range(5)}
    assert referrers(2) == {"enabled": True, "page_size": 2}
    seen, path, pages = [], f"/v2/{repo}/referrers/{digest_of(subject)}", 0
    while path:
        reply = wire.request("GET", path)
        assert reply.status_code == 200
        seen += [e["digest"] for e in reply.json()["manifests"]]
        pages += 1
        link = reply.headers.get("Link")
        if link:
            assert link.endswith('>; rel="next"')
            path = link[1 : link.index(">")]
            assert path.startswith(f"/v2/{repo}/referrers/")  # the client's names, not the registry's
        else:
            path = ""
    assert pages == 3 and sorted(seen) == sorted(made) and len(seen) == 5
    # a filter stays on every page
    path = f"/v2/{repo}/referrers/{digest_of(subject)}"
    first = wire.request("GET", path, params={"artifactType": "application/x.a"})
    assert "artifactType=application%2Fx.a" in first.headers["Link"]


# -- throttling: image puts over the rate, per account and region ---------------------------------------


@pytest.fixture
def throttle(tls_stack: Any) -> Iterator[Any]:
    yield lambda rate: tls_stack.control("throttle", {"rate": rate})
    tls_stack.control("throttle", {"reset": True})


def test_manifest_puts_over_the_rate_get_429_toomanyrequests_with_retry_after(
    tls_stack: Any, wire: Wire, repo: str, throttle: Any
) -> None:
    manifest = wire.image(repo, "first")
    assert throttle(1) == {"rate": 1.0, "burst": 1.0, "refused": 0}
    answers = [wire.put_manifest(repo, f"t{n}", manifest) for n in range(3)]
    assert answers[0].status_code == 201
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.json() == {"errors": [{"code": "TOOMANYREQUESTS", "message": "Rate exceeded"}]}
    assert refused.headers["Retry-After"] == "1"
    assert tls_stack.control("throttle", {})["refused"] >= 1
    # the other region's registry of the same account has a bucket of its own
    east = Wire(tls_stack, region=OTHER_REGION)
    assert east.request("GET", "/v2/").status_code == 200
    time.sleep(1.1)
    assert wire.put_manifest(repo, "later", manifest).status_code == 201  # the bucket refills


def test_putimage_over_the_rate_is_a_throttlingexception_sharing_the_registrys_bucket(
    tls_stack: Any, wire: Wire, repo: str, ecr: Any, throttle: Any
) -> None:
    manifest = wire.image(repo, "first").decode()
    throttle(1)
    assert wire.put_manifest(repo, "by-registry", manifest.encode()).status_code == 201  # takes the one token
    reply = requests.post(
        f"https://api.ecr.{REGION}.amazonaws.com/",
        data=json.dumps({"repositoryName": repo, "imageManifest": manifest, "imageTag": "by-api"}),
        headers={
            "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.PutImage",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20240101/{REGION}/ecr/aws4_request, Signature=x",
        },
        verify=wire.verify,
        timeout=30,
    )
    assert reply.status_code == 400
    assert reply.headers["x-amzn-ErrorType"] == "ThrottlingException" and reply.headers["Retry-After"] == "1"
    assert reply.json() == {"__type": "ThrottlingException", "message": "Rate exceeded"}
    time.sleep(1.1)
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="by-api")  # once refilled, boto3's put lands
    tags = {i.get("imageTag") for i in ecr.list_images(repositoryName=repo)["imageIds"]}
    assert {"first", "by-registry", "by-api"} <= tags


# -- ECR's limits on an image put ---------------------------------------------------------------------------


def test_putimage_refuses_a_tag_over_300_characters_and_a_manifest_over_4_mib(wire: Wire, repo: str, ecr: Any) -> None:
    manifest = wire.image(repo, "first").decode()
    for params, field, constraint in (
        ({"imageTag": "a" * 301}, "imageTag", "Member must have length less than or equal to 300"),
        (
            {"imageTag": "big", "imageManifest": manifest + " " * (4 * 1024 * 1024)},
            "imageManifest",
            "Member must have length less than or equal to 4194304",
        ),
    ):
        with pytest.raises(ecr.exceptions.InvalidParameterException) as refused:
            ecr.put_image(repositoryName=repo, **{"imageManifest": manifest, **params})
        assert refused.value.response["Error"]["Message"] == (
            f"Invalid parameter at '{field}' failed to satisfy constraint: '{constraint}'"
        )
    # 129..300 characters: ECR takes them, the stand-in's docker-registry cannot (README's table says so)
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="at most 128 characters"):
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="a" * 129)
    assert wire.put_manifest(repo, "a" * 129, manifest.encode()).status_code == 404  # the registry's own answer
    # the registry refuses a manifest over 4 MiB too
    big = wire.put_manifest(repo, "big", manifest.encode() + b" " * (4 * 1024 * 1024))
    assert big.status_code == 400 and big.json()["errors"][0]["code"] == "MANIFEST_INVALID"
