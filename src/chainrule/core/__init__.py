"""The machinery every transform stands on: primitives, interpreters, the graph IR, pytrees.

Nothing here imports the rest of chainrule; everything else imports from here.
"""
