"""FFmpeg children die with their parent, and a killed FFmpeg is reported as killed (real FFmpeg)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from proc_fixtures import ffmpeg_children

from renderer.encode import ffmpeg_proc
from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.ffmpeg_proc import describe_exit, run_ffmpeg
from renderer.encode.frame_writer import FrameWriter
from renderer.encode.media import probe_media
from renderer.errors import FFmpegError

ROOT = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc, prctl")

# An FFmpeg that runs until stopped: silence in real time into the null muxer.
FOREVER = ["-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
           "anullsrc=r=8000:cl=mono", "-f", "null", "-"]  # fmt: skip


def _state(pid: int) -> str | None:
    """The process state letter from /proc (``None``: gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")


def _wait_for_child(parent: subprocess.Popen, marker: bytes, *, timeout: float = 60.0) -> int:
    """The parent's ffmpeg child whose argv holds ``marker`` (not the ``-version`` check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children := ffmpeg_children(parent.pid, marker=marker):
            return children[0]
        if parent.poll() is not None:
            raise AssertionError(f"parent exited early: {parent.stderr.read().decode()}")
        time.sleep(0.02)
    raise AssertionError("the parent never started ffmpeg")


def _seconds_until_gone(pid: int, *, limit: float) -> float:
    t0 = time.monotonic()
    while _alive(pid) and time.monotonic() - t0 < limit:
        time.sleep(0.005)
    return time.monotonic() - t0


PARENT_RUN = """
import sys
from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.ffmpeg_proc import run_ffmpeg
if sys.argv[1] == "off":
    import renderer.encode.ffmpeg_proc as p; p._PRCTL = None  # the control: no death signal
run_ffmpeg([find_ffmpeg(), *sys.argv[2:]], what="forever")
"""

PARENT_DECODE = """
import sys
from renderer.encode.media import decode_video
decode_video(sys.argv[2], vf="format=rgb24", size=(8, 8), channels=3)  # blocks on the FIFO
"""


def _start_parent(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


@linux_only
@pytest.mark.parametrize("how", ["run_ffmpeg", "decode_video"])
def test_ffmpeg_dies_within_half_a_second_of_a_sigkilled_parent(tmp_path, how):
    if how == "run_ffmpeg":
        parent, marker = _start_parent(PARENT_RUN, "on", *FOREVER), b"anullsrc"
    else:
        fifo = tmp_path / "never-written.fifo"
        os.mkfifo(fifo)
        parent, marker = _start_parent(PARENT_DECODE, "on", str(fifo)), b"never-written"
    child = _wait_for_child(parent, marker)
    try:
        time.sleep(0.2)  # let it settle into its main loop
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        took = _seconds_until_gone(child, limit=5.0)
        assert not _alive(child), f"ffmpeg {child} still running {took:.2f} s after its parent"
        assert took < 0.5, f"ffmpeg took {took:.3f} s to die"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


@linux_only
def test_without_the_death_signal_ffmpeg_would_outlive_its_parent():
    """The control for the test above: the same parent, prctl switched off → an orphan that
    outlives its parent, which shows the death signal is what kills it in the test above.

    (Once in a few CI runs this saw "the orphan" gone within a millisecond and an FFmpeg was left
    running: it had watched the parent's ``ffmpeg -version`` probe before its exec, which still
    showed the parent's argv. ``ffmpeg_children`` now counts only exec'd FFmpeg processes.)"""
    parent = _start_parent(PARENT_RUN, "off", *FOREVER)
    child = _wait_for_child(parent, b"anullsrc")
    try:
        time.sleep(0.2)  # as above: past FFmpeg's start-up, into its main loop
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        took = _seconds_until_gone(child, limit=0.6)
        assert took >= 0.6 and _alive(child), f"ffmpeg {child} died {took:.3f} s after its parent"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _kill_ffmpeg_child_soon(results: list) -> threading.Thread:
    """SIGKILL this process's first FOREVER ffmpeg child once it has run for 0.2 s."""

    def killer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if children := ffmpeg_children(os.getpid(), marker=b"anullsrc"):
                time.sleep(0.2)
                os.kill(children[0], signal.SIGKILL)
                results.append(children[0])
                return
            time.sleep(0.01)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    return thread


@linux_only
def test_sigkilled_one_shot_ffmpeg_error_names_the_signal():
    argv = [find_ffmpeg(), *FOREVER]  # the binary check runs ffmpeg too: before the killer
    killed: list[int] = []
    thread = _kill_ffmpeg_child_soon(killed)
    with pytest.raises(FFmpegError) as info:
        run_ffmpeg(argv, what="muxing album.mp4")
    thread.join()
    assert killed
    message = str(info.value)
    assert "muxing album.mp4" in message
    assert "ffmpeg was killed by signal 9 (SIGKILL)" in message


@linux_only
def test_sigkilled_frame_writer_error_names_the_signal(tmp_path):
    out = tmp_path / "killed.mp4"
    writer = FrameWriter(out, fps=30, size=(64, 36))
    writer.open()
    writer.write(np.zeros((2, 36, 64, 3), np.uint8))
    os.kill(writer._proc.pid, signal.SIGKILL)
    with pytest.raises(
        FFmpegError, match=r"killed\.mp4: ffmpeg was killed by signal 9 \(SIGKILL\)"
    ):
        for _ in range(200):  # the pipe breaks, or close() sees the signal
            writer.write(np.zeros((4, 36, 64, 3), np.uint8))
        writer.close()
    writer.abort()
    assert not out.exists()


@linux_only
def test_killed_probe_does_not_call_a_valid_file_unreadable(tmp_path):
    """A probe whose FFmpeg is SIGKILLed (here: it kills itself unless asked for -version, which
    the binary check needs) says so instead of blaming the file."""
    media = tmp_path / "ok.wav"
    subprocess.run([find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "anullsrc=d=0.1", str(media)],
                   check=True)  # fmt: skip
    assert probe_media(media)["audio_codec"] == "pcm_s16le"
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" -version "*) exec "{find_ffmpeg()}" "$@";; esac\n'
        "kill -KILL $$\n"
    )
    wrapper.chmod(0o755)
    with pytest.raises(FFmpegError) as info:
        probe_media(media, ffmpeg_path=str(wrapper))
    message = str(info.value)
    assert "ffmpeg was killed by signal 9 (SIGKILL)" in message
    assert "cannot read" not in message and "unreadable" not in message


def test_describe_exit():
    assert describe_exit(1) == "exit 1"
    assert describe_exit(-9) == "ffmpeg was killed by signal 9 (SIGKILL)"
    assert describe_exit(-15, program="ffprobe") == "ffprobe was killed by signal 15 (SIGTERM)"


def test_child_kwargs_off_linux_or_in_worker_threads(monkeypatch):
    if ffmpeg_proc._PRCTL is not None:
        assert "preexec_fn" in ffmpeg_proc.child_kwargs()
    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(ffmpeg_proc.child_kwargs(long_lived=True)))
    worker.start()
    worker.join()
    assert box == {}  # the death signal would fire when this worker thread ends
    monkeypatch.setattr(ffmpeg_proc, "_PRCTL", None)  # other OSes: plain Popen
    assert ffmpeg_proc.child_kwargs() == {}
