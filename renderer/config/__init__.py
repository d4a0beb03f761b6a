"""Configuration: the schema (:mod:`.models`), overlaying what a user wrote on defaults and
presets (:mod:`.overlay`) and one-line validation messages (:mod:`.messages`) — the three leaves —
then CLI overrides (:mod:`.cli`), loading ``render.yaml`` (:mod:`.loading`) and the tracklist with
per-track plans (:mod:`.tracklist`)."""
