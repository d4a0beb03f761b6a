"""Music analysis: tempo and beat grid with downbeats, key, chords and sections.

``analyze_track(path)`` runs every analyser on one shared STFT/chroma and caches the result as JSON
in ``cache/analysis/`` keyed by the audio's content hash and :data:`ANALYSIS_VERSION`.
"""

from renderer.analysis.core import (
    ANALYSIS_VERSION,
    Analysis,
    Segment,
    analyze_signal,
    analyze_track,
)

__all__ = ["ANALYSIS_VERSION", "Analysis", "Segment", "analyze_signal", "analyze_track"]
