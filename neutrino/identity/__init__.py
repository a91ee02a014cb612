"""Identity: the embedded Keystone v3 subset and token validation.

- models.py      tables (same database as the network resources)
- passwords.py   scrypt password hashes
- tokens.py      signed, expiring tokens (HMAC-SHA256, keys under state_path)
- store.py       domains, projects, users, roles, assignments, revocations
- bootstrap.py   first-start bootstrap (admin project/user, roles)
- service.py     authentication, scoping, token bodies, catalog
- api.py         the Keystone v3 HTTP routes, under /identity
- validation.py  token validators for the API server: embedded (local) and
                 remote (a real Keystone, [keystone_authtoken]), with a
                 bounded per-worker cache
"""
