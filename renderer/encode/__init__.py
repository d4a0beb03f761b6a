"""Encode: FFmpeg discovery and processes (:mod:`.ffmpeg_bin`, :mod:`.ffmpeg_proc`), the profiles
(:mod:`.profiles`), frames piped into segments (:mod:`.frame_writer`), muxing (:mod:`.mux`) and
reading media back (:mod:`.media`)."""
