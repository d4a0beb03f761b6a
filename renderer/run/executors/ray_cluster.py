"""Ray for one run, kept inside the run's bounds (ARCHITECTURE's safety rules: nothing outside the
run's own folders is written, no network beyond loopback).

What Ray 2.60 does by default, measured with ``ss -ltnp`` and a file listing around a plain
``ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False)``:

- it replaces a loopback node address by the machine's routable one
  (``services.resolve_ip_for_localhost``), so the GCS, the raylet, the driver's and every
  worker's gRPC servers listen on all interfaces and the runtime-env agent on the routable
  address;
- it enables token authentication and, finding no token, writes one to ``~/.ray/auth_token``;
- it keeps its sessions (logs, sockets, spilled objects) in ``/tmp/ray`` for ever.

:class:`PrivateCluster` turns each off with Ray's own switches: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
(set before ``ray`` is imported; Ray's switch for platforms where it keeps a node on loopback) makes
the node address ``127.0.0.1``, and then every server above listens on ``127.0.0.1`` only; a
random token for this process in ``RAY_AUTH_TOKEN`` (Ray reads it before looking for the file)
keeps token authentication on without writing a file; ``_temp_dir`` puts the session in a fresh
``nts-ray-*`` folder under the system temporary folder (short: Ray's Unix sockets live there),
which :meth:`PrivateCluster.close` removes after shutdown, together with the chunk scratch and the
model copies of the workers, which write there too. A cluster given by ``render.address`` is the
user's: its own ``ray start`` flags decide where it listens and what it writes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from renderer.errors import RenderError

LOOPBACK = "127.0.0.1"
LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # read once, when ray is imported
TOKEN_ENV = "RAY_AUTH_TOKEN"
# One token per process: Ray's token loader caches the first one it reads.
_TOKEN = secrets.token_hex(32)


def import_ray(*, private: bool):
    """``ray``, with its usage statistics off, and (``private``) set to keep a cluster it starts
    on loopback; a clear error when the extra is not installed."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if private and "ray" not in sys.modules:
        os.environ[LOOPBACK_SWITCH] = "0"
    try:
        import ray
    except ImportError:
        raise RenderError(
            "render.executor 'ray' needs Ray: pip install 'noise-to-signal[ray]'"
        ) from None
    return ray


class PrivateCluster:
    """A Ray cluster on this machine for one run: loopback only, no file outside ``folder``
    (removed by :meth:`close`). ``common``: further :func:`ray.init` arguments."""

    current: PrivateCluster | None = None  # the one this process runs, if any

    def __init__(self, *, num_cpus: int, **common) -> None:
        self.ray = ray = import_ray(private=True)
        # Short on purpose: Ray's Unix sockets live in it (AF_UNIX paths are ≤ 107 bytes).
        self.folder = Path(tempfile.mkdtemp(prefix="nts-ray-"))
        self._own_token = TOKEN_ENV not in os.environ
        os.environ.setdefault(TOKEN_ENV, _TOKEN)
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address=LOOPBACK,
                     _temp_dir=str(self.folder), **common)  # fmt: skip
            node = ray.util.get_node_ip_address()
            if node != LOOPBACK:
                raise RenderError(
                    f"render.executor 'ray': the private cluster's node address is {node}, not "
                    f"{LOOPBACK} (ray was imported before {LOOPBACK_SWITCH}=0 could be set); "
                    "run in a fresh process or give render.address"
                )
        except BaseException:
            self.close()
            raise
        PrivateCluster.current = self

    @property
    def scratch(self) -> str:
        """Where this cluster's workers put chunk files and model copies."""
        return str(self.folder / "work")

    def close(self) -> None:
        """Shut the cluster down and remove its folder (sessions, logs, sockets, scratch)."""
        if self.ray.is_initialized():
            self.ray.shutdown()
        if self._own_token:
            os.environ.pop(TOKEN_ENV, None)
        shutil.rmtree(self.folder, ignore_errors=True)
        if PrivateCluster.current is self:
            PrivateCluster.current = None
