"""Weight porting: readers for legacy checkpoints, maps onto Keras 3 variables, writer.

Readers return :class:`migrate.weights.source.WeightSource` objects: an ordered
catalogue of named source weights whose arrays are read lazily, one at a
time, so a port never holds a second full copy of a checkpoint.
"""
