"""Audio in: decoding and validation, features at the video frame rate (:mod:`.features`) and
the mastered WAV of each track, trimmed and loudness-normalised (:mod:`.master`)."""
