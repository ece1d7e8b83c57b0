"""`cpython-static upstream nixpkgs`: a commit in a nixpkgs checkout that makes
``pkgsStatic.python3`` build its extension modules into the interpreter
(NixOS/nixpkgs#138448).

The change is data (``templates/nixpkgs/configure-flags.toml`` and the commit message
template beside it); this module finds where it goes in
``pkgs/development/interpreters/python/cpython/default.nix`` -- the ``optionals static
[ … ]`` part of ``configureFlags`` -- with a small Nix tokenizer rather than by line
numbers or one exact spelling, so either formatting of nixpkgs (nixfmt-rfc-style or the
older one, ``lib.optionals`` or ``optionals``) is handled, and a file that no longer has
that shape is refused with a message saying what is missing.

The user's checkout is never touched: the file is read from the base commit, the edited
blob, tree and commit are written with plumbing (``hash-object``, a temporary index,
``commit-tree``) and the branch is created with ``update-ref`` only once everything else
succeeded (and removed again if ``--push`` then fails).  Working tree, index and HEAD stay
as they were.
"""

from __future__ import annotations

import re
import shutil
import string
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cpython_static.core.errors import UsageError
from cpython_static.core.git import UserRepo
from cpython_static.core.runner import Runner
from cpython_static.series.mirror import IDENTITY

DATA_DIR = Path(__file__).resolve().parent / "templates" / "nixpkgs"  # package data
SPEC_FILE = DATA_DIR / "configure-flags.toml"
MESSAGE_TEMPLATE = DATA_DIR / "commit-message.txt.tmpl"

DESCRIPTION = """\
In a nixpkgs checkout, create a branch with one commit that makes pkgsStatic.python3
build its extension modules into the interpreter (NixOS/nixpkgs#138448): when `static`,
configureFlags gets MODULE_BUILDTYPE=static and --disable-test-modules, and before 3.13
the configure cache variables that disable xxlimited/xxlimited_35 (no patch file).

  cpython-static upstream nixpkgs --nixpkgs ~/src/nixpkgs
  cpython-static upstream nixpkgs --nixpkgs ~/src/nixpkgs --base origin/master --push fork

The checkout's working tree, index and HEAD are left alone: the commit is made from
--base with git plumbing and only the new branch appears.  The edited file is checked
with `nix-instantiate --parse` first.  Running it again is a no-op that says so (the base
already has the change, or the branch already holds this commit).
"""


class NixpkgsError(UsageError):
    """Not a nixpkgs checkout, a file of another shape, a dirty tree, a foreign branch."""


# -- the change, as data ------------------------------------------------------------------
@dataclass(frozen=True)
class Flag:
    flag: str
    comment: tuple[str, ...] = ()


@dataclass(frozen=True)
class Guarded:
    guard: str
    flags: tuple[str, ...]
    comment: tuple[str, ...] = ()


@dataclass(frozen=True)
class Spec:
    file: str
    markers: tuple[str, ...]
    issue: str
    branch: str
    needs: tuple[str, ...]
    static: tuple[Flag, ...]
    guarded: tuple[Guarded, ...]
    message: str

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0]

    @property
    def flags(self) -> list[str]:
        return [f.flag for f in self.static] + [f for g in self.guarded for f in g.flags]


def load_spec(path: Path = SPEC_FILE, template: Path = MESSAGE_TEMPLATE) -> Spec:
    data = tomllib.loads(path.read_text())
    message = string.Template(template.read_text()).substitute(issue=data["issue"])
    return Spec(
        file=data["file"],
        markers=tuple(data["markers"]),
        issue=data["issue"],
        branch=data["branch"],
        needs=tuple(data["needs"]),
        static=tuple(Flag(f["flag"], tuple(f.get("comment", ()))) for f in data["static"]),
        guarded=tuple(Guarded(g["guard"], tuple(g["flags"]), tuple(g.get("comment", ()))) for g in data["guarded"]),
        message=message.rstrip("\n") + "\n",
    )


# -- a tokenizer for Nix, enough to find structures ---------------------------------------
@dataclass(frozen=True)
class Tok:
    kind: str  # id, str, path, num, uri, punct
    text: str
    start: int
    end: int


_PATH = re.compile(
    r"[A-Za-z0-9._+\-]*(?:/[A-Za-z0-9._+\-]+)+/?|~(?:/[A-Za-z0-9._+\-]+)+/?|<[A-Za-z0-9._+\-]+(?:/[A-Za-z0-9._+\-]+)*>"
)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:[A-Za-z0-9%/?:@&=+$,\-_.!~*']+")
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_'\-]*")
_NUM = re.compile(r"[0-9]+(?:\.[0-9]*)?(?:[Ee][+-]?[0-9]+)?")
_PUNCTS = (
    "...",
    "${",
    "++",
    "//",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "->",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ";",
    "=",
    ":",
    ",",
    "?",
    "@",
    ".",
    "+",
    "-",
    "*",
    "/",
    "<",
    ">",
    "!",
)


class NixSyntaxError(NixpkgsError):
    pass


def _where(src: str, pos: int) -> str:
    line = src.count("\n", 0, pos) + 1
    return f"line {line}"


def tokenize(src: str) -> list[Tok]:
    """The tokens of ``src`` (comments and whitespace dropped; a string, with whatever its
    interpolations hold, is one token)."""
    toks, end = _lex(src, 0, nested=False)
    return toks


def _lex(src: str, i: int, nested: bool) -> tuple[list[Tok], int]:
    """Tokens from ``i``; when ``nested`` (inside ``${``), up to the matching ``}``,
    returning the index just past it."""
    toks: list[Tok] = []
    depth = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c in " \t\r\n":
            i += 1
        elif c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise NixSyntaxError(f"a /* comment opened at {_where(src, i)} is never closed")
            i = j + 2
        elif c == '"':
            j = _skip_string(src, i)
            toks.append(Tok("str", src[i:j], i, j))
            i = j
        elif src.startswith("''", i):
            j = _skip_indented(src, i)
            toks.append(Tok("str", src[i:j], i, j))
            i = j
        elif m := _PATH.match(src, i):
            toks.append(Tok("path", m.group(), i, m.end()))
            i = m.end()
        elif m := _URI.match(src, i):  # as Nix itself reads `x:y`
            toks.append(Tok("uri", m.group(), i, m.end()))
            i = m.end()
        elif m := _ID.match(src, i):
            toks.append(Tok("id", m.group(), i, m.end()))
            i = m.end()
        elif m := _NUM.match(src, i):
            toks.append(Tok("num", m.group(), i, m.end()))
            i = m.end()
        else:
            p = next((p for p in _PUNCTS if src.startswith(p, i)), None)
            if p is None:
                raise NixSyntaxError(f"unexpected character {c!r} at {_where(src, i)}")
            if nested and p in ("{", "${"):
                depth += 1
            elif nested and p == "}":
                if depth == 0:
                    return toks, i + 1
                depth -= 1
            toks.append(Tok("punct", p, i, i + len(p)))
            i += len(p)
    if nested:
        raise NixSyntaxError("an interpolation ${ … } is never closed")
    return toks, i


def _skip_string(src: str, i: int) -> int:
    """The index just past the "…" string starting at ``i``."""
    j = i + 1
    while j < len(src):
        if src[j] == "\\":
            j += 2
        elif src.startswith("$$", j):
            j += 2  # "$${" is a literal "$${", not an interpolation
        elif src.startswith("${", j):
            _, j = _lex(src, j + 2, nested=True)
        elif src[j] == '"':
            return j + 1
        else:
            j += 1
    raise NixSyntaxError(f"a string opened at {_where(src, i)} is never closed")


def _skip_indented(src: str, i: int) -> int:
    """The index just past the ''…'' string starting at ``i``."""
    j = i + 2
    while j < len(src):
        if src.startswith("''", j):
            nxt = src[j + 2 : j + 3]
            if nxt in ("'", "$"):
                j += 3  # ''' and ''$ are escapes
            elif nxt == "\\":
                j += 4  # ''\x
            else:
                return j + 2
        elif src.startswith("$$", j):
            j += 2
        elif src.startswith("${", j):
            _, j = _lex(src, j + 2, nested=True)
        else:
            j += 1
    raise NixSyntaxError(f"an indented string opened at {_where(src, i)} is never closed")


# -- finding the structures and editing ---------------------------------------------------
@dataclass
class Edit:
    text: str  # the new file
    added: list[str] = field(default_factory=list)  # flags this edit adds
    present: list[str] = field(default_factory=list)  # flags the file already had

    @property
    def changed(self) -> bool:
        return bool(self.added)


_OPEN = {"[", "(", "{", "${"}
_CLOSE = {"]", ")", "}"}


def _matching(toks: list[Tok], k: int) -> int:
    """Index of the token closing the bracket at ``k``."""
    depth = 0
    for j in range(k, len(toks)):
        t = toks[j]
        if t.kind == "punct" and t.text in _OPEN:
            depth += 1
        elif t.kind == "punct" and t.text in _CLOSE:
            depth -= 1
            if depth == 0:
                return j
    raise NixSyntaxError(f"{toks[k].text!r} opened here is never closed")


def _binding(toks: list[Tok], src: str, name: str) -> tuple[int, int]:
    """Token range (start, end) of the expression bound to attribute ``name`` (exactly
    one binding), ``end`` being the index of its terminating ``;``."""
    hits = [
        k
        for k in range(len(toks) - 1)
        if toks[k].kind == "id"
        and toks[k].text == name
        and toks[k + 1].kind == "punct"
        and toks[k + 1].text == "="
        and (k == 0 or toks[k - 1].text in (";", "{", "let"))
    ]
    if not hits:
        raise NixpkgsError(f"no `{name} = …;` attribute")
    if len(hits) > 1:
        raise NixpkgsError(
            f"`{name}` is bound {len(hits)} times "
            f"({', '.join(_where(src, toks[k].start) for k in hits)}); expected once"
        )
    depth = 0
    for j in range(hits[0] + 2, len(toks)):
        t = toks[j]
        if t.kind == "punct" and t.text in _OPEN:
            depth += 1
        elif t.kind == "punct" and t.text in _CLOSE:
            depth -= 1
        elif t.kind == "punct" and t.text == ";" and depth == 0:
            return hits[0] + 2, j
    raise NixpkgsError(f"`{name} = …` is never ended by `;`")


def _line_start(src: str, pos: int) -> int:
    return src.rfind("\n", 0, pos) + 1


def _indent(src: str, pos: int) -> str:
    start = _line_start(src, pos)
    return src[start:pos][: len(src[start:pos]) - len(src[start:pos].lstrip(" \t"))]


def _first_on_line(src: str, pos: int) -> bool:
    return src[_line_start(src, pos) : pos].strip() == ""


def _rest_of_line_is_comment(src: str, pos: int) -> int | None:
    """If only blanks and a # comment follow ``pos`` on its line, the index of that line's
    end; else None."""
    eol = src.find("\n", pos)
    eol = len(src) if eol < 0 else eol
    rest = src[pos:eol].strip()
    return eol if rest == "" or rest.startswith("#") else None


def _render(items: list[tuple[tuple[str, ...], list[str]]], indent: str) -> str:
    """Lines for list items: each group's comment lines, then its quoted flags."""
    lines = []
    for comment, flags in items:
        lines += [f"{indent}# {c}" if c else f"{indent}#" for c in comment]
        lines += [f'{indent}"{f}"' for f in flags]
    return "\n".join(lines)


def edit_configure_flags(src: str, spec: Spec) -> Edit:
    """Add the spec's flags to the CPython derivation ``src``.  Raises NixpkgsError naming
    what is missing when the file is not of the expected shape."""
    toks = tokenize(src)
    for name in spec.needs:
        if not any(t.kind == "id" and t.text == name for t in toks):
            raise NixpkgsError(f"the file never mentions `{name}`, which the change needs")
    if not any(toks[k].text == "static" and toks[k + 1].text == "?" for k in range(len(toks) - 1)):
        raise NixpkgsError("the function header has no `static ? …` argument")
    lo, hi = _binding(toks, src, "configureFlags")
    # `optionals static [` or `lib.optionals static [`, anywhere inside configureFlags.
    hits = [
        k
        for k in range(lo, hi - 2)
        if toks[k].text == "optionals" and toks[k + 1].text == "static" and toks[k + 2].text == "["
    ]
    if not hits:
        raise NixpkgsError("configureFlags has no `optionals static [ … ]` part to extend")
    if len(hits) > 1:
        raise NixpkgsError(
            f"configureFlags has {len(hits)} `optionals static [ … ]` parts "
            f"({', '.join(_where(src, toks[k].start) for k in hits)}); expected one"
        )
    k = hits[0]
    first = k - 2 if k >= 2 and toks[k - 1].text == "." and toks[k - 2].kind == "id" else k
    fn = src[toks[first].start : toks[k].end]  # `optionals` or `lib.optionals`, as spelled
    opening, closing = k + 2, _matching(toks, k + 2)
    L, R = toks[opening].start, toks[closing].start

    literals = {t.text for t in toks[lo:hi] if t.kind == "str"}
    present = [f for f in spec.flags if f'"{f}"' in literals]
    static_new = [(f.comment, [f.flag]) for f in spec.static if f.flag not in present]
    guarded_new = [(g, [f for f in g.flags if f not in present]) for g in spec.guarded]
    guarded_new = [(g, fl) for g, fl in guarded_new if fl]
    added = [f for _, fl in static_new for f in fl] + [f for _, fl in guarded_new for f in fl]
    if not added:
        return Edit(src, [], present)

    before = toks[first - 1] if first > 0 else None
    leading = before is not None and before.text == "++" and _first_on_line(src, before.start)
    base = _indent(src, before.start if leading else toks[first].start)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in src coordinates
    if "\n" in src[L:R]:
        # A multi-line list: items at the indentation of its first line of content.
        body = [ln for ln in src[L:R].split("\n")[1:] if ln.strip()]
        item = body[0][: len(body[0]) - len(body[0].lstrip())] if body else _indent(src, R) + "  "
        close = _indent(src, R) if _first_on_line(src, R) else base
        if static_new:
            text = _render(static_new, item)
            if _first_on_line(src, R):
                edits.append((_line_start(src, R), _line_start(src, R), text + "\n"))
            else:
                edits.append((R, R, "\n" + text + "\n" + close))
    else:
        # A one-line list becomes a multi-line one so that each flag can carry its reason.
        item, close = base + "  ", base
        if static_new:
            inner = src[L + 1 : R].strip()
            lines = ([item + inner] if inner else []) + [_render(static_new, item)]
            edits.append((L, R + 1, "[\n" + "\n".join(lines) + "\n" + close + "]"))
    after = toks[closing].end
    if guarded_new:
        if leading:  # nixfmt-rfc-style: `++` leads each line; a comment after `]` stays there
            eol = _rest_of_line_is_comment(src, after)
            pos = after if eol is None else eol
            text = "".join(
                f"\n{base}++ {fn} ({g.guard}) [\n{_render([(g.comment, fl)], item)}\n{base}]" for g, fl in guarded_new
            )
        else:  # the older layout: `] ++ optionals … [` on one line
            pos = after
            text = "".join(
                f" ++ {fn} ({g.guard}) [\n{_render([(g.comment, fl)], item)}\n{close}]" for g, fl in guarded_new
            )
        edits.append((pos, pos, text))
    text = src
    for start, end, repl in sorted(edits, key=lambda e: e[0], reverse=True):
        text = text[:start] + repl + text[end:]
    return Edit(text, added, present)


# -- git, non-destructively ---------------------------------------------------------------
@dataclass
class Outcome:
    branch: str
    commit: str | None
    base: str
    file: str
    message: str
    added: list[str]
    parse_check: str
    author: str | None = None
    pushed: str | None = None
    existing: str | None = None

    @property
    def changed(self) -> bool:
        return self.commit is not None


class Nixpkgs(UserRepo):
    """A nixpkgs checkout, read through git plumbing only (core.git.UserRepo)."""

    def __init__(self, path: Path, runner: Runner, spec: Spec):
        super().__init__(path, runner, option="--nixpkgs", error=NixpkgsError)
        self.spec = spec

    def check_shape(self, base: str) -> None:
        missing = [p for p in (*self.spec.markers, self.spec.file) if not self.has(base, p)]
        if not missing:
            return
        hint = ""
        if self.has(base, "Include/Python.h"):
            hint = " (it looks like a CPython clone: that one goes to `upstream cpython --repo`)"
        raise NixpkgsError(
            f"{self.root} is not a nixpkgs checkout{hint}: its commit {base[:12]} has no {', '.join(missing)}"
        )

    def read(self, rev: str, path: str) -> tuple[str, str]:
        """(mode, text) of ``path`` at ``rev``."""
        entry = self.out(f"mode of {path}", "ls-tree", rev, "--", path)
        mode = entry.split()[0]
        if mode not in ("100644", "100755"):
            raise NixpkgsError(f"{path} at {rev[:12]} is not a regular file (mode {mode})")
        text = self.git(f"read {path}", "cat-file", "blob", f"{rev}:{path}").output
        if "\ufffd" in text:
            raise NixpkgsError(f"{path} at {rev[:12]} is not UTF-8 text")
        return mode, text

    def commit(self, base: str, mode: str, text: str, message: str, who: tuple[str, str]) -> str:
        """A commit on top of ``base`` whose only change is the spec's file; nothing but
        objects is written (a temporary index, outside the checkout, builds the tree)."""
        path = self.spec.file
        blob = self.out("store the edited file", "hash-object", "-w", "--no-filters", "--stdin", stdin=text)
        with tempfile.TemporaryDirectory(prefix="cpython-static-nixpkgs-") as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read the base tree", "read-tree", base, env=index)
            self.git("replace the file", "update-index", "--cacheinfo", f"{mode},{blob},{path}", env=index)
            tree = self.out("write the tree", "write-tree", env=index)
        name, email = who
        people = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        # --no-gpg-sign: a signing prompt would wait forever without a terminal.
        return self.out(
            "commit", "commit-tree", "--no-gpg-sign", tree, "-p", base, "-F", "-", env=people, stdin=message
        )


def parse_check(runner: Runner, text: str, label: str) -> str:
    """``nix-instantiate --parse`` on ``text``: "ok", or why it was skipped; raises on a
    syntax error."""
    program = shutil.which("nix-instantiate")
    if program is None:
        return "skipped: nix-instantiate not found (Debian package nix-bin)"
    with tempfile.TemporaryDirectory(prefix="cpython-static-nixparse-") as tmp:
        path = Path(tmp) / "default.nix"
        path.write_text(text)
        # --store dummy://: parsing needs no store, and the default local store would create
        # /nix/var/nix as root (and fail for anyone else); no daemon, nothing written.
        res = runner.run(
            f"nix-instantiate --parse ({label})",
            [program, "--store", "dummy://", "--parse", path],
            capture=True,
            check=False,
        )
    if res.returncode != 0:
        raise NixpkgsError(f"nix-instantiate --parse rejects the {label} file; see {res.log}")
    return "ok"


def make_commit(
    repo: Path,
    runner: Runner,
    *,
    branch: str | None = None,
    base: str = "HEAD",
    push: str | None = None,
    spec: Spec | None = None,
    progress=lambda line: None,
) -> Outcome:
    spec = spec or load_spec()
    branch = branch or spec.branch
    nix = Nixpkgs(repo, runner, spec)
    nix.check_branch_name(branch)
    base_sha = nix.resolve(base)
    nix.check_shape(base_sha)
    nix.check_clean()
    mode, original = nix.read(base_sha, spec.file)

    tip = nix.branch_tip(branch)
    if tip is not None:
        subject = nix.out("subject of the branch tip", "log", "-1", "--format=%s", tip)
        ours = subject == spec.subject and nix.has(tip, spec.file)
        if ours:
            try:
                ours = not edit_configure_flags(nix.read(tip, spec.file)[1], spec).changed
            except NixpkgsError:
                ours = False
        if not ours:
            raise NixpkgsError(
                f"a branch {branch} already exists in {nix.root} and is not this change "
                f"(its tip {tip[:12]}: {subject!r}); delete it or choose another --branch"
            )
        return Outcome(
            branch,
            None,
            base_sha,
            spec.file,
            f"branch {branch} already holds this change ({tip[:12]}); nothing to do",
            [],
            "not needed",
            existing=tip,
        )

    edit = _edit(original, spec, f"{base}'s")
    if not edit.changed:
        return Outcome(
            branch,
            None,
            base_sha,
            spec.file,
            f"{base} ({base_sha[:12]}) already passes {', '.join(spec.flags)} for static builds; nothing to commit",
            [],
            "not needed",
        )
    # A file nix could not parse before is no proof against our edit: say which it is.
    checked = parse_check(runner, original, "unmodified")
    if checked == "ok":
        checked = parse_check(runner, edit.text, "edited")
    else:
        progress(f"warning: {checked}; the edited file was not parsed")
    who = nix.identity()
    fallback = who is None
    who = who or (IDENTITY["user.name"], IDENTITY["user.email"])
    commit = nix.commit(base_sha, mode, edit.text, spec.message, who)
    nix.create_branch(branch, commit)
    message = f"branch {branch}: {spec.subject}"
    if fallback:
        message += (
            " (no git identity is configured: committed as "
            f"{who[0]} <{who[1]}>; amend with --reset-author before submitting)"
        )
    outcome = Outcome(branch, commit, base_sha, spec.file, message, edit.added, checked, author=f"{who[0]} <{who[1]}>")
    try:
        if push:
            nix.push(push, branch)
            outcome.pushed = push
    except BaseException:
        nix.delete_branch(branch, commit)  # nothing half-done stays behind
        raise
    return outcome


def _edit(text: str, spec: Spec, whose: str) -> Edit:
    try:
        return edit_configure_flags(text, spec)
    except NixSyntaxError as exc:
        raise NixpkgsError(f"{whose} {spec.file} cannot be read as Nix: {exc}") from None
    except NixpkgsError as exc:
        raise NixpkgsError(f"{whose} {spec.file} is not of the expected shape: {exc}") from None
