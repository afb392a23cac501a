"""The registry side: talking to an OCI/Docker v2 registry directly: the reachability probe, and the v2
client `ecrtool copy` moves images with (client.py).

May import model only.
"""
