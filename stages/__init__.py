"""Stage algorithms that join the store with the networks: plain functions that tasks wire.

`storage/` knows nothing of networks and `nets/` nothing of zarr; these functions read stored
arrays, run a network, and write its outputs back (or save a trained model).
"""
