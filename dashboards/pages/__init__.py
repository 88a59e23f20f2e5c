"""One module per page; each exposes ``register(app, ctx)`` that registers its page and callbacks."""
