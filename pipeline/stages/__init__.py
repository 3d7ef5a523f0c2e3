"""One thin module per DVC stage: read params, call core functions, write outputs atomically."""
