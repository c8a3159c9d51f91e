"""Custom derivative rules and gradient control: ``custom_jvp``, ``custom_vjp``, ``stop_gradient``, ``checkpoint``."""
