"""Decode: latents → frames. The generator network (:mod:`.generator`, shared with training),
the model artefacts and their metadata (:mod:`.model_meta`), the backends (ONNX Runtime,
torch) and the batching decoder in front of them (:mod:`.decoder`)."""
