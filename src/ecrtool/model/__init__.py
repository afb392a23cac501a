"""The model: errors, frozen values, image references, results, settings and the config file, registry
credentials and the token cache that keeps them.

Imports nothing of ecrtool's but other model modules; the standard library only (and only what a
cached login can afford: see value.py).
"""
