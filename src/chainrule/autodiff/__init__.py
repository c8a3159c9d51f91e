"""Automatic differentiation: the forward (JVP) and reverse (record, then walk back) interpreters and the
transforms built on them."""
