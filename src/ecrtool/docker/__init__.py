"""The Docker side: the runner protocol and build_runner (runner.py), one runner per transport (the engine's
API on its unix socket in engine_api.py, docker-py for TCP/SSH engines in dockerpy.py, the docker command
for --runner cli and --sudo in command.py), containers through docker-py (containers.py), their errors
(errors.py), and the Docker config file (config.py).

May import model only. docker-py loads only when a runner needs it.
"""
