"""The Docker side: the runner protocol and one runner per transport (the engine's API on its unix
socket, docker-py for TCP/SSH engines and containers, the docker command for --sudo), and the Docker
config file.

May import model only. docker-py loads only when a runner needs it.
"""
