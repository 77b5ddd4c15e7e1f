"""Pure graph builders, functions of a config: parameters, cells, their
recurrences and hand-written BPTT, layers, the forward graphs, optimizers and
training-step graphs. No backend, no data, no loop.
"""
