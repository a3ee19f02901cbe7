"""Built-in failure detectors (entry point group `mendflow.detectors`).

Stream detectors (`threshold`, `ewma`, `ft_jam_slip`, `model_score`) share one run loop
(`_base`): read a source (`sources`), score every sample, window, compare with a calibrated
threshold, and report `alarm`, `score`, `detected_at`, `threshold`, `window`. `vlm_judge`
asks a multimodal chat model about one image instead.
"""
