"""Decoding for reward-guided search: forkable key/value caches (rows), keyed draws (draws), beam/DVTS/sampling over
partial solutions (tree). What scores a partial solution is a guide object handed in by harness.flow.search."""
