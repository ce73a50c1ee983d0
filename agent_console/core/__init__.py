"""Pure cores of the console: seat presence with its grace period, and the numbers the pages show.

No I/O, no clock reads: time comes in as ``now`` (epoch seconds).
"""
