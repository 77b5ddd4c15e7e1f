"""Throughput against hand-written numpy and JAX baselines measured in the
same run (``pytrnn bench``).
"""
