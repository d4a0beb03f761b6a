"""Post-processing at the decode size: the effect chain (:mod:`.postfx`) and colour grading with
tone curves and 3D LUTs (:mod:`.grading`, ``luts/``)."""
