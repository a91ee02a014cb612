"""Options of authentication: upstream's [keystone_authtoken] (keystonemiddleware
and keystoneauth's password plugin names) and neutrino's [identity] (the
embedded identity). neutrino/options.py puts both in SERVER_SCHEMA."""
from __future__ import annotations

from neutrino.config import Opt, Section, choice, int_range, string, to_bool, to_list


# keystoneauth plugins neutrino can authenticate its service user with.
AUTH_TYPES = ("password", "v3password", "v3applicationcredential", "token", "v3token")


def _optional_float(raw: str) -> float | None:
    raw = raw.strip()
    if raw in ("", "None", "none"):
        return None
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{value} is not above 0")
    return value


def _optional_bool(raw: str) -> bool | None:
    return None if raw.strip() in ("", "None", "none") else to_bool(raw)


def _ignored(name: str, conv=string, default=""):
    return Opt(name, conv, default, "Accepted for compatibility; no effect.", ignored=True)


KEYSTONE_AUTHTOKEN = Section("keystone_authtoken", (
    Opt("www_authenticate_uri", string, "",
        "Public Keystone endpoint sent to clients in the WWW-Authenticate header of a 401. "
        "Empty: auth_uri, else auth_url, else the embedded identity's URL."),
    Opt("auth_uri", string, "", "Deprecated upstream name of www_authenticate_uri."),
    Opt("auth_url", string, "",
        "Keystone URL the server authenticates itself against and validates tokens with "
        "(…/v3 or the unversioned root, to which /v3 is appended). Required when "
        "[identity] embedded = false."),
    Opt("auth_type", choice(*AUTH_TYPES), "password",
        "How the service authenticates itself (keystoneauth's plugin names): password / "
        "v3password (username or user_id, password), v3applicationcredential "
        "(application_credential_id, or _name with the user, and _secret), token / v3token "
        "(token)."),
    Opt("application_credential_id", string, "", "Application credential of the service, by id."),
    Opt("application_credential_name", string, "",
        "Application credential, by name (with username or user_id)."),
    Opt("application_credential_secret", string, "",
        "Secret of the application credential (never logged)."),
    Opt("token", string, "", "A token the service uses to get its own (token, v3token)."),
    Opt("default_domain_id", string, "",
        "Domain of the user and project when neither names its own, by id."),
    Opt("default_domain_name", string, "", "The same, by name."),
    Opt("domain_id", string, "", "Scope the service token to this domain (instead of a project)."),
    Opt("domain_name", string, "", "The same, by name."),
    Opt("trust_id", string, "", "Scope the service token to this trust."),
    Opt("system_scope", string, "", "Scope the service token to the system (all)."),
    Opt("timeout", _optional_float, None,
        "Seconds an HTTP request to Keystone may take (unset: http_connect_timeout)."),
    Opt("username", string, "", "Service user name (usually neutron)."),
    Opt("user_id", string, "", "Service user id (instead of username)."),
    Opt("password", string, "", "Service user's password (never logged)."),
    Opt("user_domain_name", string, "Default", "Domain of the service user, by name."),
    Opt("user_domain_id", string, "", "Domain of the service user, by id (wins over the name)."),
    Opt("project_name", string, "", "Project the service token is scoped to (usually service)."),
    Opt("project_id", string, "", "Project of the service token, by id."),
    Opt("project_domain_name", string, "Default", "Domain of that project, by name."),
    Opt("project_domain_id", string, "", "Domain of that project, by id (wins over the name)."),
    Opt("region_name", string, "", "Accepted; tokens are validated at auth_url directly."),
    Opt("token_cache_time", int_range(-1), 300,
        "Seconds a validated token is trusted without asking Keystone again (never past its "
        "expiry); a token revoked in Keystone keeps working here for up to this long, as "
        "upstream. -1 or 0: cache until expiry / do not cache."),
    Opt("http_connect_timeout", int_range(1), 10, "Seconds to wait for Keystone."),
    Opt("http_request_max_retries", int_range(0), 3,
        "Retries of a validation that failed to connect."),
    Opt("insecure", to_bool, False, "Do not verify Keystone's TLS certificate."),
    Opt("cafile", string, "", "CA bundle to verify Keystone's TLS certificate."),
    Opt("certfile", string, "", "Client certificate for Keystone (with keyfile)."),
    Opt("keyfile", string, "", "Key of the client certificate."),
    Opt("service_token_roles", to_list, ("service",), "Accepted for compatibility; no effect.",
        ignored=True),
    Opt("service_token_roles_required", to_bool, False, "Accepted for compatibility; no effect.",
        ignored=True),
    Opt("memcached_servers", to_list, (),
        "Accepted for compatibility; no effect: each API worker keeps its own bounded cache.",
        ignored=True),
    Opt("include_service_catalog", to_bool, True, "Accepted for compatibility; no effect.",
        ignored=True),
    Opt("delay_auth_decision", to_bool, False, "Accepted for compatibility; no effect.",
        ignored=True),
    Opt("enforce_token_bind", string, "permissive", "Accepted for compatibility; no effect.",
        ignored=True),
    _ignored("auth_section"),
    _ignored("auth_version"),
    _ignored("interface", default="internal"),
    _ignored("cache"),
    _ignored("service_type"),
    _ignored("memcache_security_strategy", default="None"),
    _ignored("memcache_secret_key"),
    _ignored("memcache_tls_enabled", to_bool, False),
    _ignored("memcache_tls_cafile"),
    _ignored("memcache_tls_certfile"),
    _ignored("memcache_tls_keyfile"),
    _ignored("memcache_tls_allowed_ciphers"),
    _ignored("memcache_pool_dead_retry", int_range(0), 300),
    _ignored("memcache_pool_maxsize", int_range(0), 10),
    _ignored("memcache_pool_socket_timeout", int_range(0), 3),
    _ignored("memcache_pool_unused_timeout", int_range(0), 60),
    _ignored("memcache_pool_conn_get_timeout", int_range(0), 10),
    _ignored("memcache_use_advanced_pool", to_bool, True),
    _ignored("memcache_sasl_enabled", to_bool, False),
    _ignored("memcache_username"),
    _ignored("memcache_password"),
))

SECURITY_COMPLIANCE = Section("security_compliance", (
    Opt("lockout_failure_attempts", int_range(0), 0,
        "Embedded identity, as Keystone: failed password authentications after which a user "
        "is locked (even the right password is refused, 401) for lockout_duration. 0: no "
        "lockout (Keystone's default)."),
    Opt("lockout_duration", int_range(0), 1800,
        "Seconds a locked user stays locked after the last failure; 0: until an admin sets "
        "the password or enables the user (`neutrino identity user set`)."),
))

IDENTITY = Section("identity", (
    Opt("embedded", _optional_bool, None,
        "With auth_strategy = keystone: true serves a Keystone v3 subset at /identity/v3 on "
        "the API port and validates its tokens in-process; false validates tokens with the "
        "Keystone of [keystone_authtoken]. Unset: false when [keystone_authtoken] names a "
        "Keystone (auth_url, www_authenticate_uri or auth_uri), else true."),
    Opt("token_expiration", int_range(60), 3600, "Lifetime of embedded tokens, seconds."),
    Opt("token_key_file", string, "",
        "HMAC keys that sign embedded tokens, one base64 key a line, the first signs. Empty: "
        "<state_path>/identity/token_keys, created (0600) on first start."),
    Opt("admin_user", string, "admin", "Bootstrap admin user (created on first start)."),
    Opt("admin_project", string, "admin", "Bootstrap admin project."),
    Opt("admin_password", string, "",
        "Bootstrap admin password. Empty: a random one, written once to "
        "<state_path>/identity/admin-password (0600)."),
    Opt("region_name", string, "RegionOne", "Region of the catalog's endpoints."),
    Opt("public_endpoint", string, "",
        "Base URL of this server for the catalog (network endpoint and /identity). Empty: "
        "the scheme, host and port the token request was sent to."),
    Opt("token_cache_size", int_range(16), 10000,
        "Validated tokens each API worker remembers (least recently used go first)."),
    Opt("revocation_check_interval", int_range(0), 1,
        "Seconds between an API worker's reads of new revocation events (embedded only; the "
        "worker that revokes a token applies it at once)."),
    Opt("source_lockout_failure_attempts", int_range(0), 20,
        "Failed password authentications from one client address (any user names) after "
        "which that address is refused (429, Retry-After) for source_lockout_duration. "
        "0: no per-address throttling."),
    Opt("source_lockout_duration", int_range(1), 300,
        "Seconds an address stays refused after its last failure; failures further apart "
        "than this do not add up."),
    Opt("password_hash_workers", int_range(1, 64), 1,
        "Password checks (scrypt, ~50 ms of CPU each) running at once per API worker, in "
        "threads of lower CPU priority, so that a burst of logins does not slow other calls."),
    Opt("password_hash_queue", int_range(0), 16,
        "Password checks that may wait for those threads per API worker (each holds one of "
        "the worker's 40 request threads while it waits); a login beyond that is answered "
        "503 with Retry-After."),
))


def resolve_identity(cfg):
    """[identity] embedded unset -> decided: an operator's [keystone_authtoken]
    that names a Keystone means "validate with that Keystone" (as upstream),
    unless the embedded identity is asked for explicitly."""
    if cfg.identity.embedded is not None:
        return cfg
    ka = cfg.keystone_authtoken
    return cfg.replace("identity", embedded=not (ka.auth_url or ka.www_authenticate_uri
                                                 or ka.auth_uri))


def auth_summary(cfg) -> str:
    """One line for the start-up log: how requests are authenticated."""
    if cfg.DEFAULT.auth_strategy != "keystone":
        return "auth_strategy = noauth: requests are trusted (X-Project-Id, X-Roles headers)"
    if cfg.identity.embedded:
        return ("auth_strategy = keystone: tokens are validated by the embedded identity "
                "(served at /identity/v3; [identity] embedded = true, or unset and no "
                "Keystone named in [keystone_authtoken])")
    ka = cfg.keystone_authtoken
    return (f"auth_strategy = keystone: tokens are validated by the Keystone at "
            f"{ka.auth_url or '(no auth_url)'} (service credentials: auth_type {ka.auth_type})")
