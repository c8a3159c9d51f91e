"""chainrule: derivatives for numerical optimization."""
