"""The model: errors, frozen values, image references, results, settings and the config file, registry
credentials and the token cache that keeps them; and how ecrtool opens a connection of its own (the
proxy the environment names, the one TLS trust: proxy.py, tls.py).

Imports nothing of ecrtool's but other model modules; the standard library only (and only what a
cached login can afford: see value.py). One exception: sync_spec.py reads a sync spec with PyYAML, imported
only when a spec is read.
"""
