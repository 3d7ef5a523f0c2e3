"""One thin module per DVC stage: read params, call core functions, write outputs atomically.

May import: every layer (`core`, `data`, `generators`, `quality`, `experiment`, `reporting`, `config`, `ops`), but
never another stage; nothing but `pipeline/cli.py` imports a stage.
"""
