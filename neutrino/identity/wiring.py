"""Building the keystone authenticator of the API server from the config
(called by neutrino.service.build_auth)."""
from __future__ import annotations

import logging

from neutrino.api.auth import TokenAuth

LOG = logging.getLogger(__name__)


def build_keystone_auth(cfg, db=None) -> TokenAuth:
    ka, ident = cfg.keystone_authtoken, cfg.identity
    uri = ka.www_authenticate_uri or ka.auth_uri
    if ident.embedded:
        from neutrino.db.engine import Database
        from neutrino.identity.admin_api import AdminApi
        from neutrino.identity.api import IdentityApi
        from neutrino.identity.service import IdentityService
        if db is None:
            db = Database.from_config(cfg)
        service = IdentityService.build(cfg, db)
        api = IdentityApi(service)
        return TokenAuth(service.validator(), uri, ident.token_cache_size,
                         routes=api.routes() + AdminApi(api).routes(),
                         identity_url=service.identity_url)
    from neutrino.identity.validation import RemoteValidator
    validator = RemoteValidator(ka)
    validator.check_credentials()
    LOG.info("validating tokens with keystone at %s", validator.base)
    return TokenAuth(validator, uri or ka.auth_url, ident.token_cache_size)
