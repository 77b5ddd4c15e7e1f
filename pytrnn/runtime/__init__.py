"""What runs the graphs: backends and their patches, devices and data
parallelism, the compiled model (``RNN``), fused windows, scoring and sampling
with a model, checkpoints on disk. The only group that asks which backend it runs.
"""
