"""Token rules, sans-I/O: keys, JWTs, JWKS, discovery, introspection, caches."""
