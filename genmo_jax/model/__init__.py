"""The GENMO denoiser network (Flax NNX) and the bridge from the release's weights."""
