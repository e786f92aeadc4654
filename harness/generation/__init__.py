"""Responses from a model: sampling, the fast decoder, pools generated from a task (`generate`), the lm-eval
backend, and the decoding machinery of guided search (search/). Models come in loaded; guides come in as objects."""
