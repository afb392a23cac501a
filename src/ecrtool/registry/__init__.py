"""The registry side: talking to an OCI/Docker v2 registry directly (today the reachability probe).

May import model only.
"""
