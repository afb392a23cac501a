"""The AWS config file, read as far as ecrtool needs without botocore: is there one, and is its profile plain.

botocore reads the file whole and costs more to load than a cached login takes; these answers let the
hot paths know when botocore's reading could change the request they send (then they leave it to botocore).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# the only settings an AWS config profile may hold for the request to be the one botocore would send
_HARMLESS_PROFILE_KEYS = frozenset({"region", "output", "cli_pager", "cli_history", "cli_timestamp_format"})


def path(environ: Mapping[str, str]) -> str:
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.expanduser(environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config"))


def exists(environ: Mapping[str, str]) -> bool:
    """Whether there is a config file that could say anything (a region, a profile): empty ones do not."""
    found = path(environ)
    return os.path.isfile(found) and os.path.getsize(found) > 0


def plain_profile(environ: Mapping[str, str]) -> bool:
    """True when the AWS config file's profile changes nothing about the request (region at most)."""
    if not exists(environ):
        return True
    import configparser  # only when there is a file to read

    # botocore reads AWS_DEFAULT_PROFILE first (its session variable "profile")
    name = environ.get("AWS_DEFAULT_PROFILE") or environ.get("AWS_PROFILE") or "default"
    parser = configparser.RawConfigParser()
    try:
        parser.read(path(environ), encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False
    section = "default" if name == "default" and parser.has_section("default") else f"profile {name}"
    if not parser.has_section(section):
        return True
    return set(parser.options(section)) <= _HARMLESS_PROFILE_KEYS
