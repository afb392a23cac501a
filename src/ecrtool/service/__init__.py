"""The jobs: each ecrtool command as one function over the AWS, Docker and registry gateways.

Returns plain results (model.results), reports progress as events, raises only EcrToolErrors; never
prints, never imports click or rich. May import aws, docker, registry and model.
"""
