"""Option schemas and INI loading into frozen config objects.

The files are upstream's (neutron.conf, ml2_conf.ini, linuxbridge_agent.ini,
...): same sections, same option names, oslo.config syntax. We parse them
ourselves instead of using oslo.config because we want (a) a start-up error
that names any unknown or invalid option, which oslo.config does not give for
options in files, and (b) one frozen object passed down explicitly rather than
a global registry read deep inside methods. Options that Neutron 25's files
define and neutrino does not use are accepted and reported (Config.unused,
log_unused), so an operator's files load unchanged: see neutrino.upstream.
"""
from __future__ import annotations

import configparser
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping


class ConfigError(Exception):
    """A configuration file cannot be used; the message names the option."""


# --- value types --------------------------------------------------------

_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


def to_bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not a boolean")


def to_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    def conv(raw: str) -> int:
        value = int(raw.strip())
        if lo is not None and value < lo:
            raise ValueError(f"{value} is below the minimum {lo}")
        if hi is not None and value > hi:
            raise ValueError(f"{value} is above the maximum {hi}")
        return value
    conv.__name__ = "integer"
    return conv


def choice(*values: str) -> Callable[[str], str]:
    def conv(raw: str) -> str:
        value = raw.strip()
        if value not in values:
            raise ValueError(f"{value!r} is not one of {', '.join(values)}")
        return value
    conv.__name__ = "choice"
    return conv


def string(raw: str) -> str:
    return raw.strip()


@dataclass(frozen=True)
class Opt:
    name: str
    conv: Callable[[str], Any]
    default: Any
    help: str
    # Accepted for compatibility with upstream files but has no effect.
    ignored: bool = False

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class Section:
    name: str
    opts: tuple[Opt, ...]
    help: str = ""


class Schema:
    """A set of sections. Besides its own options a schema accepts, unused,
    every option of Neutron 25's files (neutrino.upstream) unless
    `upstream=False`; sections listed in `ignored_sections` are accepted
    whole, whatever they hold, if upstream's files do not define them.
    `finalize(cfg) -> cfg` settles values that depend on other options."""

    def __init__(self, sections: Iterable[Section], ignored_sections: Iterable[str] = (),
                 upstream: bool = True, finalize: Callable[[Any], Any] | None = None):
        self.sections = {s.name: s for s in sections}
        self.ignored_sections = frozenset(ignored_sections)
        self.upstream = upstream
        self.finalize = finalize

    def upstream_sections(self) -> Mapping[str, Mapping[str, str]]:
        if not self.upstream:
            return {}
        from neutrino import upstream
        return upstream.sections()

    def merged(self, other: "Schema") -> "Schema":
        sections = dict(self.sections)
        for name, sec in other.sections.items():
            if name in sections:
                sections[name] = Section(name, sections[name].opts + sec.opts, sections[name].help)
            else:
                sections[name] = sec
        return Schema(sections.values(), self.ignored_sections | other.ignored_sections,
                      self.upstream or other.upstream, self.finalize or other.finalize)


def _section_type(section: Section) -> type:
    fields = [(opt.attr, Any, field(default=opt.default)) for opt in section.opts]
    return dataclasses.make_dataclass(
        "Section_" + section.name.replace("-", "_"), fields, frozen=True)


@dataclass(frozen=True)
class Config:
    """Frozen view: `cfg.section("ml2").type_drivers` or `cfg.ml2.type_drivers`;
    the [DEFAULT] section is `cfg.DEFAULT`."""
    sections: Mapping[str, Any]
    files: tuple[str, ...] = ()
    # "[section] option" of each option the files set that has no effect
    # (upstream's, or accepted for compatibility), in file order.
    unused: tuple[str, ...] = ()

    def section(self, name: str) -> Any:
        return self.sections[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["sections"][name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, section: str, **values: Any) -> "Config":
        """A copy with some values changed (tests, the lab)."""
        sections = dict(self.sections)
        sections[section] = dataclasses.replace(sections[section], **values)
        return Config(sections, self.files, self.unused)


def load(schema: Schema, files: Iterable[str] = (),
         overrides: Mapping[str, Mapping[str, str]] | None = None) -> Config:
    """Read `files` in order (later ones win, as with oslo.config) and apply
    `overrides` (raw strings, as if from a file) last."""
    raw: dict[str, dict[str, tuple[str, str]]] = {}
    files = tuple(files)
    for path in files:
        parser = configparser.RawConfigParser(
            default_section="\x00none", strict=False, interpolation=None,
            delimiters=("=",), comment_prefixes=("#", ";"),
            inline_comment_prefixes=None)
        parser.optionxform = str  # option names are case-sensitive upstream
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle, source=path)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except configparser.Error as exc:
            raise ConfigError(f"{path}: {exc.message}") from None
        for sec in parser.sections():
            for key, value in parser.items(sec):
                raw.setdefault(sec, {})[key.replace("-", "_")] = (value, path)
    for sec, values in (overrides or {}).items():
        for key, value in values.items():
            raw.setdefault(sec, {})[key] = (str(value), "<override>")

    unused = _check_names(schema, raw)
    built = {}
    for name, section in schema.sections.items():
        values = {}
        given = raw.get(name, {})
        for opt in section.opts:
            if opt.name in given:
                text, where = given[opt.name]
                try:
                    values[opt.attr] = opt.conv(text)
                except (ValueError, TypeError) as exc:
                    raise ConfigError(
                        f"invalid value for [{name}] {opt.name} in {where}: {exc}") from None
            else:
                values[opt.attr] = opt.default
        built[name] = _section_type(section)(**values)
    cfg = Config(built, files, unused)
    return schema.finalize(cfg) if schema.finalize else cfg


def _check_names(schema: Schema, raw: Mapping[str, Mapping[str, tuple[str, str]]]
                 ) -> tuple[str, ...]:
    """ConfigError for an option neither the schema nor upstream's files
    define; the "[section] option" of those that have no effect."""
    upstream = schema.upstream_sections()
    unused = []
    for sec, values in raw.items():
        section = schema.sections.get(sec)
        theirs = upstream.get(sec)
        if section is None and theirs is None:
            if sec in schema.ignored_sections:
                unused.append(f"[{sec}]")
                continue
            where = next(iter(values.values()))[1] if values else "?"
            raise ConfigError(f"unknown section [{sec}] in {where}")
        ours = {opt.name: opt for opt in section.opts} if section is not None else {}
        for key, (_, where) in values.items():
            opt = ours.get(key)
            if opt is not None and not opt.ignored:
                continue
            if opt is None and (theirs is None or key not in theirs):
                raise ConfigError(f"unknown option [{sec}] {key} in {where}")
            unused.append(f"[{sec}] {key}")
    return tuple(unused)


def log_unused(cfg: Config, logger) -> None:
    """One line naming the options of the files that have no effect."""
    if cfg.unused:
        logger.warning("ignoring %d option(s) that neutrino does not use: %s",
                       len(cfg.unused), ", ".join(cfg.unused))


def parse_argv_files(argv: list[str]) -> list[str]:
    """The --config-file options of an upstream-style command line, in order."""
    files = []
    it = iter(argv)
    for arg in it:
        if arg == "--config-file":
            files.append(next(it, ""))
        elif arg.startswith("--config-file="):
            files.append(arg.split("=", 1)[1])
    return [f for f in files if f]


def default_state_path() -> str:
    return os.environ.get("NEUTRINO_STATE_PATH", "/var/lib/neutrino")
