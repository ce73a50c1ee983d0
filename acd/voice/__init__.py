"""Voice: calls to 12345 through Asterisk (ARI + AMI) into the ACD and out to seats."""
