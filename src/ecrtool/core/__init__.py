"""The service layer and its gateways: no click, no rich, no printing; plain results and EcrToolErrors."""
