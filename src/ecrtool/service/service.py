"""The service: every ecrtool command as one method, the families of jobs joined in one class.

Each family lives in a module of its own (tokens and login, transfers, copies, repositories, retagging,
scans, cleanups, set-up) over ServiceBase's settings and gateways. Every method validates its input before it touches
AWS or Docker, returns a plain result, reports progress through a callback and raises only EcrToolErrors.
"""

from __future__ import annotations

from ecrtool.service.copy import Copies
from ecrtool.service.prune import Cleanup
from ecrtool.service.repos import Repositories
from ecrtool.service.retag import Retagging
from ecrtool.service.scan import Scans
from ecrtool.service.setup import Setup
from ecrtool.service.transfers import Transfers


class Service(Transfers, Copies, Repositories, Retagging, Scans, Cleanup, Setup):
    """`Service(settings).push(...)`: the command line builds one per invocation."""
