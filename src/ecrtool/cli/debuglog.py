"""`--debug` logging: botocore's and ecrtool's calls on stderr, with every secret redacted."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    (
        re.compile(
            r'("?(?:authorizationToken|password|Secret|auth|identitytoken|SecretAccessKey|SessionToken)"?\s*[:=]\s*)("?)[^",\s}]+'
        ),
        r"\1\2***",
    ),
    (re.compile(r"(Authorization['\"]?:\s*['\"]?)[^'\"]+"), r"\1***"),
    (re.compile(r"(X-Registry-Auth['\"]?:\s*['\"]?)[^'\"]+", re.IGNORECASE), r"\1***"),
    (re.compile(r"(X-Amz-Security-Token['\"]?:\s*['\"]?)[^'\"]+", re.IGNORECASE), r"\1***"),
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
