"""Post-processing: the effect chain (:mod:`.postfx`, registered in :mod:`.registry`) — colour at
the decode size (:mod:`.colour_fx`: tone, LUT, auto-exposure and a hue-preserving Oklab grade from
:mod:`.autograde` and :mod:`.oklab`), then enlargement, grain and chroma effects at the output size
(:mod:`.output_fx`) — with tone curves, vignette masks and 3D LUTs in :mod:`.grading` and
``luts/``; picture measures of the visual-quality bars in :mod:`.frame_stats` and
:mod:`.quality`. The same chain on a torch device (the CUDA path) is :mod:`.device_fx`, with the
steps OpenCV owns on the CPU in :mod:`.torch_ops`."""
