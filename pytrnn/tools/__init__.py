"""What a user does with checkpoints: evaluate, generate, compare, plot;
and the notebook reproduction and the environment report.
"""
