"""A render needs no network and touches nothing outside its run folder: in a child process
whose sockets and DNS lookups raise and whose ``$HOME`` is empty, the tiny album renders on both
backends; the torch backend never imports ONNX Runtime, and nothing appears under ``$HOME``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from render_fixtures import make_album

CHILD = textwrap.dedent(
    """
    import json, socket, sys

    attempts = []

    class NoNetwork(socket.socket):
        def __init__(self, *args, **kwargs):
            attempts.append(repr(args))
            raise OSError("network access attempted")

    def no_lookup(*args, **kwargs):
        attempts.append(repr(args))
        raise OSError("DNS lookup attempted")

    socket.socket = NoNetwork
    socket.getaddrinfo = no_lookup
    socket.gethostbyname = no_lookup

    from renderer.render_album import main

    runs = []
    for backend in sys.argv[2:]:  # one after the other: what each imported is seen in between
        rc = main(["--config", sys.argv[1], "--backend", backend])
        runs.append({"backend": backend, "rc": rc, "ort": "onnxruntime" in sys.modules})
    print(json.dumps({"runs": runs, "attempts": attempts}))
    """
)


def test_render_opens_no_socket_and_writes_nothing_outside(tmp_path, tiny_model_dir):
    """Both backends in one child (one cold start instead of two): torch first, so that ONNX
    Runtime being imported only by the ONNX render shows."""
    config = make_album(tmp_path / "project", tiny_model_dir, seconds=1.0)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", CHILD, str(config), "torch", "onnx"],
                          cwd=config.parent, env={**env, "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert result["runs"] == [{"backend": "torch", "rc": 0, "ort": False},
                              {"backend": "onnx", "rc": 0, "ort": True}]  # fmt: skip
    metas = [json.loads(p.read_text()) for p in (config.parent / "renders").glob("*/meta.json")]
    assert sorted(t["backend"] for m in metas for t in m["tracks"]) == ["onnx"] * 2 + ["torch"] * 2
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == []
    before = {"album", "models", "render.yaml", "renders"}
    assert {p.name for p in config.parent.iterdir()} <= before | {"cache"}
