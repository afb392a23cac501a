"""`--debug` logging: botocore's and ecrtool's calls on stderr, with every secret redacted."""

from __future__ import annotations

import logging
import re

_SECRET_KEYS = (
    "authorizationToken|password|Secret|auth|identitytoken|SecretAccessKey|secretAccessKey|SessionToken|"
    "sessionToken|accessToken|IdentityToken|RegistryToken"
)
_PATTERNS = [
    # JSON bodies and Python reprs: "key": "value" / 'key': 'value' / key=value
    (re.compile(rf"""(["']?\b(?:{_SECRET_KEYS})["']?\s*[:=]\s*b?)(["']?)[^"',\s}}&]+"""), r"\1\2***"),
    # headers as botocore logs them, values possibly as bytes: 'Authorization': b'AWS4-HMAC-SHA256 ...'
    (
        re.compile(r"""((?:Authorization|X-Registry-Auth|X-Amz-Security-Token)["']?\s*:\s*b?["']?)[^"'\n]+""", re.I),
        r"\1***",
    ),
    # STS XML bodies
    (re.compile(r"(<(SecretAccessKey|SessionToken|AccessKeyId)>)[^<]*(</\2>)"), r"\1***\3"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def configure() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for noisy in ("urllib3", "botocore.hooks", "botocore.loaders", "botocore.utils"):
        logging.getLogger(noisy).setLevel(logging.INFO)
