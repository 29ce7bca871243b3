"""How p1guard calls PingOne as a client: client auth, tokens, client DPoP."""
