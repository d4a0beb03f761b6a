"""Configuration: the schema (:mod:`.models`, a leaf), CLI overrides (:mod:`.cli`), loading
``render.yaml`` (:mod:`.loading`) and the tracklist with per-track plans (:mod:`.tracklist`)."""
