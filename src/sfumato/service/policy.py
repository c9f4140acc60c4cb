"""Content policy for prompts: the operator's rules, each account's overrides, one check.

The operator writes rules in ``$SFUMATO_HOME/policy.toml`` (``SFUMATO_POLICY_FILE``): per
category, plain ``terms`` (whole words or phrases, any case) and regular expressions
(``patterns``, any case)::

    [categories.violence]
    terms = ["behead"]
    patterns = ['\\bkill\\s+(them\\s+)?all\\b']

An account may get rules of its own on top, and categories lifted for it, with
``sfumato accounts policy …``; those live in the database. :func:`check` is what every
surface that takes text calls (admission calls it for each submission's texts): a text that
falls under a category is refused with ``400 content-policy`` naming it, before anything is
charged or queued, and the log records the refusal with the text's sha256, never the text.
The file is read again whenever it changes, so an edit needs no restart.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfumato.errors import InvalidRequest, NotFound
from sfumato.observability.metrics import record_refusal
from sfumato.service.context import Context
from sfumato.store import accounts, policies
from sfumato.store.models import AccountPolicy

log = logging.getLogger(__name__)
CODE = "content-policy"
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ContentRefused(InvalidRequest):
    """A request's text falls under a content-policy category."""

    code = CODE

    def __init__(self, category: str, what: str) -> None:
        super().__init__(
            f"The {what} was refused by the content policy: its text falls under the "
            f"category {category!r}. Nothing was charged."
        )
        self.category = category


@dataclass(frozen=True)
class Rule:
    category: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()

    @classmethod
    def parse(cls, table: Mapping[str, Any], origin: str) -> RuleSet:
        """Rules from ``{category: {terms: [...], patterns: [...]}}``; a bad one names itself."""
        rules: list[Rule] = []
        for category, entry in table.items():
            if not isinstance(category, str) or not _CATEGORY.match(category):
                raise ValueError(f"{origin}: {category!r} is not a category name (letters, digits, _ . -)")
            if not isinstance(entry, Mapping) or set(entry) - {"terms", "patterns"}:
                raise ValueError(f"{origin}: category {category!r} takes only `terms` and `patterns` lists")
            for term in _strings(entry.get("terms", []), origin, category):
                rules.append(Rule(category, term_pattern(term)))
            for text in _strings(entry.get("patterns", []), origin, category):
                try:
                    rules.append(Rule(category, re.compile(text, re.IGNORECASE)))
                except re.error as exc:
                    raise ValueError(f"{origin}: category {category!r}: pattern {text!r}: {exc}") from None
        return cls(tuple(rules))

    def category_of(self, text: str, lifted: Iterable[str] = ()) -> str | None:
        """The first category ``text`` falls under, other than those ``lifted``."""
        skip = set(lifted)
        for rule in self.rules:
            if rule.category not in skip and rule.pattern.search(text):
                return rule.category
        return None

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.rules + other.rules)


def term_pattern(term: str) -> re.Pattern[str]:
    """A term as a whole word or phrase, any case; inner spaces match any run of white space."""
    words = [re.escape(word) for word in term.split()]
    if not words:
        raise ValueError("a term must not be empty")
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def _strings(values: object, origin: str, category: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(
            f"{origin}: category {category!r}: terms and patterns are lists of non-empty strings"
        )
    return list(values)


class _FileRules:
    """The operator's file, parsed once per change of its modification time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[Path, tuple[int, RuleSet]] = {}

    def get(self, path: Path) -> RuleSet:
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return RuleSet()
        with self._lock:
            seen = self._seen.get(path)
            if seen is not None and seen[0] == stamp:
                return seen[1]
        rules = load_file(path)
        with self._lock:
            self._seen[path] = (stamp, rules)
        return rules


def load_file(path: Path) -> RuleSet:
    """The rules of a policy file; a malformed file is an error that names it (never ignored)."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the content policy {path}: {exc}") from exc
    unknown = set(raw) - {"categories"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {', '.join(sorted(unknown))} (only [categories.NAME])")
    return RuleSet.parse(raw.get("categories", {}), str(path))


_FILES = _FileRules()


def operator_rules(ctx: Context) -> RuleSet:
    return _FILES.get(ctx.settings.resolved_policy_file)


def check(ctx: Context, account_id: str, texts: Iterable[str | None], what: str) -> None:
    """Refuse (``400 content-policy``) when any of ``texts`` falls under a category that
    applies to the account; ``what`` names the request in the error ("generation" …)."""
    wanted = [text for text in texts if text]
    if not wanted:
        return
    own = _account_rules(ctx, account_id)
    rules = operator_rules(ctx) + own.rules
    lifted = own.lifted
    if not rules.rules:
        return
    for text in wanted:
        category = rules.category_of(text, lifted)
        if category is not None:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            log.warning(
                "content policy refused a %s: category %s, account %s, text sha256 %s",
                what, category, account_id, digest,
            )  # fmt: skip
            record_refusal(category)
            raise ContentRefused(category, what)


@dataclass(frozen=True)
class _AccountRules:
    rules: RuleSet
    lifted: frozenset[str]


def _account_rules(ctx: Context, account_id: str) -> _AccountRules:
    """The account's own rules and lifted categories, parsed; kept for
    SFUMATO_KEY_CACHE_SECONDS, like a checked key (a change made in this process applies at once)."""
    cached = ctx.account_policies.get(account_id)
    if isinstance(cached, _AccountRules):
        return cached
    with ctx.db.read() as session:
        row = policies.policy_of(session, account_id)
        own = _AccountRules(
            RuleSet.parse(row.rules, "the account's rules") if row is not None else RuleSet(),
            frozenset(row.allowed) if row is not None else frozenset(),
        )
    ctx.account_policies.put(account_id, own)
    return own


# -- the operator's per-account overrides ------------------------------------------------


@dataclass(frozen=True)
class AccountPolicyView:
    username: str
    mode: str  # flag | blur | withhold
    rules: dict[str, dict[str, list[str]]]
    allowed: list[str]


def _view(username: str, row: AccountPolicy | None) -> AccountPolicyView:
    if row is None:
        return AccountPolicyView(username, policies.FLAG, {}, [])
    return AccountPolicyView(username, row.mode or policies.FLAG, dict(row.rules), sorted(row.allowed))


def show_account_policy(ctx: Context, *, username: str) -> AccountPolicyView:
    with ctx.db.read() as session:
        account = _account(session, username)
        return _view(username, policies.policy_of(session, account.id))


def update_account_policy(
    ctx: Context,
    *,
    username: str,
    mode: str | None = None,
    category: str | None = None,
    terms: Iterable[str] = (),
    patterns: Iterable[str] = (),
    allow: Iterable[str] = (),
    disallow: Iterable[str] = (),
    clear_rules: bool = False,
) -> AccountPolicyView:
    """Change an account's policy: its mode, rules added under ``category``, categories of the
    operator's lifted (``allow``) or applied again (``disallow``); every rule is checked."""
    if mode is not None and mode not in policies.MODES:
        raise InvalidRequest(f"mode must be one of {', '.join(policies.MODES)}")
    terms, patterns = list(terms), list(patterns)
    if (terms or patterns) and not category:
        raise InvalidRequest("terms and patterns need a category")
    with ctx.db.transaction() as session:
        account = _account(session, username)
        row = policies.policy_for_update(session, account.id)
        rules: dict[str, dict[str, list[str]]] = {}
        if not clear_rules:
            rules = {name: {f: list(v) for f, v in entry.items()} for name, entry in row.rules.items()}
        if category:
            entry = rules.setdefault(category, {})
            for field, added in (("terms", terms), ("patterns", patterns)):
                if added:
                    entry[field] = [*entry.get(field, []), *added]
        rules = {name: entry for name, entry in rules.items() if entry}
        try:
            RuleSet.parse(rules, "the account's rules")
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        row.rules = rules
        row.allowed = sorted((set(row.allowed) | set(allow)) - set(disallow))
        if mode is not None:
            row.mode = mode
        session.flush()
        view = _view(username, row)
    ctx.account_policies.clear()
    return view


def _account(session: Any, username: str) -> Any:
    account = accounts.account_by_username(session, username)
    if account is None:
        raise NotFound(f"No account named {username!r}")
    return account
