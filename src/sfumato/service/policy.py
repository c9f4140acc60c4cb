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
from functools import cached_property
from pathlib import Path
from typing import Any

from sfumato.errors import InvalidRequest, NotFound, SfumatoError
from sfumato.observability.metrics import record_refusal
from sfumato.service.context import Context
from sfumato.store import accounts, policies
from sfumato.store.models import AccountPolicy

log = logging.getLogger(__name__)
CODE = "content-policy"
_WORD = re.compile(r"\w+")
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ContentRefused(InvalidRequest):
    """A request's text falls under a content-policy category."""

    code = CODE

    def __init__(self, category: str, what: str, subject: str = "text") -> None:
        super().__init__(
            f"The {what} was refused by the content policy: its {subject} falls under the "
            f"category {category!r}. Nothing was charged."
        )
        self.category = category


@dataclass(frozen=True)
class Rule:
    """One rule: a term (its words, matched as a run of whole words) or a pattern."""

    category: str
    words: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, eq=False)
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
                words = term_words(term)
                if not words:
                    raise ValueError(f"{origin}: category {category!r}: term {term!r} has no word in it")
                rules.append(Rule(category, words=words))
            for text in _strings(entry.get("patterns", []), origin, category):
                try:
                    rules.append(Rule(category, pattern=re.compile(text, re.IGNORECASE)))
                except re.error as exc:
                    raise ValueError(f"{origin}: category {category!r}: pattern {text!r}: {exc}") from None
        return cls(tuple(rules))

    def category_of(self, text: str) -> str | None:
        """A category ``text`` falls under, or None: terms first (one pass over the text's
        words, whatever their number), then each pattern."""
        terms, lengths = self._terms
        if terms:
            words = term_words(text)
            for length in lengths:
                for start in range(len(words) - length + 1):
                    category = terms.get(words[start : start + length])
                    if category is not None:
                        return category
        for rule in self.rules:
            if rule.pattern is not None and rule.pattern.search(text):
                return rule.category
        return None

    @cached_property
    def _terms(self) -> tuple[dict[tuple[str, ...], str], list[int]]:
        """Each term's words → its category (the first rule's), and the terms' lengths."""
        terms: dict[tuple[str, ...], str] = {}
        for rule in self.rules:
            if rule.words:
                terms.setdefault(rule.words, rule.category)
        return terms, sorted({len(words) for words in terms})

    def without(self, categories: Iterable[str]) -> RuleSet:
        lifted = set(categories)
        return RuleSet(tuple(rule for rule in self.rules if rule.category not in lifted)) if lifted else self

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.rules + other.rules)


def term_words(text: str) -> tuple[str, ...]:
    """A text's words, case-folded: how terms are matched (whole words, any case, whatever
    spaces or punctuation lie between them: "mass shooting" also finds "Mass-Shooting")."""
    return tuple(_WORD.findall(text.casefold()))


def _strings(values: object, origin: str, category: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(
            f"{origin}: category {category!r}: terms and patterns are lists of non-empty strings"
        )
    return list(values)


_NONE = RuleSet()  # no file: one object, so what is built from it stays cached


class PolicyUnreadable(SfumatoError):
    """The operator's rules cannot be read and none were read before: text is refused until
    they are fixed, rather than let through unchecked."""

    status = 503
    code = "content-policy-unavailable"


class _FileRules:
    """The operator's file, parsed once per change of its modification time. A change that
    does not parse is logged and the rules read last stay in force."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[Path, tuple[int, RuleSet | None]] = {}
        self._good: dict[Path, RuleSet] = {}

    def get(self, path: Path) -> RuleSet:
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return _NONE
        with self._lock:
            seen = self._seen.get(path)
        if seen is None or seen[0] != stamp:
            try:
                rules: RuleSet | None = load_file(path)
            except ValueError as exc:
                log.error(
                    "the content policy file does not parse; the rules read last stay in force: %s", exc
                )
                rules = None
            with self._lock:
                self._seen[path] = seen = (stamp, rules)
                if rules is not None:
                    self._good[path] = rules
        good = seen[1] or self._good.get(path)
        if good is None:
            raise PolicyUnreadable(
                "The server's content policy cannot be read, so no text is accepted until its "
                "operator fixes it (the server's log says what is wrong)."
            )
        return good


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
    rules = _effective_rules(ctx, account_id)
    if not rules.rules:
        return
    for text in wanted:
        category = rules.category_of(text)
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
    operator: RuleSet  # the operator's rules it was built from
    effective: RuleSet  # those and the account's own, less its lifted categories


def _effective_rules(ctx: Context, account_id: str) -> RuleSet:
    """The rules that apply to the account, built once and kept for SFUMATO_KEY_CACHE_SECONDS,
    like a checked key (a change made in this process, or to the file, applies at once)."""
    operator = operator_rules(ctx)
    cached = ctx.account_policies.get(account_id)
    if isinstance(cached, _AccountRules) and cached.operator is operator:
        return cached.effective
    with ctx.db.read() as session:
        row = policies.policy_of(session, account_id)
        own = RuleSet.parse(row.rules, "the account's rules") if row is not None else RuleSet()
        lifted = list(row.allowed) if row is not None else []
    effective = (operator + own).without(lifted)
    ctx.account_policies.put(account_id, _AccountRules(operator, effective))
    return effective


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
