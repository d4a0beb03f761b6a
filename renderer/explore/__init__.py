"""The explorer (``nts-explore``): galleries of short renders over backends × presets × seeds and
one swept parameter, each tile with the exact ``render.yaml`` that renders it.

:mod:`.grid` (tiles and their configs) → one run of the normal render path
(:mod:`renderer.run.album`) → :mod:`.output` (contact strips, clips, anchor stills, what is
written where) and :mod:`.gallery` (the HTML); :mod:`.cli` is the command.
"""
