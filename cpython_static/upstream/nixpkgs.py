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
import textwrap
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
build its extension modules into the interpreter (part of NixOS/nixpkgs#138448: 3.12
and later).  When `static`, configureFlags gets MODULE_BUILDTYPE=static and
py_cv_module_<name>=n/a for the modules configure builds shared regardless (the
never_static lists of modules.toml; not --disable-test-modules, which would leave
Lib/test uninstalled and break postInstall), and `patches` gets the HACL* fix for
3.14.0-3.14.4 (our 0003, as 3.14/static-hacl-libs.patch beside default.nix).
Layouts: nixfmt-rfc-style, the older one, and `optional static "LDFLAGS=-static"`.

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
class NixPatch:
    """A patch of our series that nixpkgs carries too, as a file beside default.nix."""

    file: str  # relative to default.nix's directory
    guard: str  # the Nix condition it is applied under
    text: str  # the patch file, as in patches/
    comment: tuple[str, ...] = ()
    message: str = ""

    @property
    def reference(self) -> str:
        return f"./{self.file}"


@dataclass(frozen=True)
class Spec:
    file: str
    markers: tuple[str, ...]
    issue: str
    branch: str
    needs: tuple[str, ...]
    static: tuple[Flag, ...]
    # py_cv_module_<name>=n/a for modules.toml's never_static modules, with one comment
    never_static: tuple[str, ...]
    never_static_comment: tuple[str, ...]
    patches: tuple[NixPatch, ...]
    message: str

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0]

    @property
    def flags(self) -> list[str]:
        return [f.flag for f in self.static] + list(self.never_static)

    @property
    def groups(self) -> list[tuple[tuple[str, ...], list[str]]]:
        """(comment, flags) groups, in the order they go into the static list."""
        return [(f.comment, [f.flag]) for f in self.static] + [(self.never_static_comment, list(self.never_static))]


def never_static_modules(since: str) -> list[str]:
    """modules.toml's never_static lists of every series from ``since`` on, merged in
    series order: the modules a static build must disable."""
    from cpython_static.verify.modules import load_module_tables

    def key(series: str) -> tuple[int, ...]:
        return tuple(int(x) for x in series.split("."))

    out: list[str] = []
    for series, table in sorted(load_module_tables().items(), key=lambda kv: key(kv[0])):
        if key(series) >= key(since):
            out += [m for m in table.never_static if m not in out]
    return out


def version_guard(patch) -> str:
    """The Nix condition for a patch's Python-Versions, on the derivation's ``version``:
    a lower bound at a series' first pre-release (3.14.0a1) is the series itself, since
    Nix's compareVersions orders "3.14.0a1" after "3.14.0"."""
    parts = []
    for spec in sorted(patch.versions, key=lambda s: s.operator != ">="):
        v = spec.version
        if spec.operator == ">=":
            if re.fullmatch(r"\d+\.\d+\.0(a|b|rc)\d+", v):
                v = ".".join(v.split(".")[:2])
            parts.append(f'lib.versionAtLeast version "{v}"')
        elif spec.operator == "<":
            parts.append(f'lib.versionOlder version "{v}"')
        else:
            raise NixpkgsError(f"{patch.name}: Python-Versions {spec} has no Nix rendering (only >= and <)")
    return " && ".join(["static", *parts])


def load_spec(path: Path = SPEC_FILE, template: Path = MESSAGE_TEMPLATE, patches_dir: Path | None = None) -> Spec:
    from cpython_static.build import patches as series_patches

    data = tomllib.loads(path.read_text())
    never = never_static_modules(data["never_static_from"])
    flags = [f"py_cv_module_{m}=n/a" for m in never]
    patches_dir = patches_dir or series_patches.default_patches_dir()
    nix_patches = []
    for entry in data.get("patches", ()):
        if patches_dir is None:
            raise NixpkgsError(
                f"the commit carries {entry['patch']} from the patch series, and there is no patches/ "
                "beside this installation: pass --patches DIR"
            )
        if not (patches_dir / entry["patch"]).is_file():
            raise NixpkgsError(f"{patches_dir} has no {entry['patch']}, which the commit carries to nixpkgs")
        patch = series_patches.parse_patch(patches_dir / entry["patch"])
        nix_patches.append(
            NixPatch(
                entry["file"],
                version_guard(patch),
                patch.path.read_text(),
                tuple(entry.get("comment", ())),
                entry.get("message", ""),
            )
        )
    wrap = textwrap.TextWrapper(width=72, break_on_hyphens=False)
    message = string.Template(template.read_text()).substitute(
        issue=data["issue"],
        never_static=", ".join(never),
        patches="".join(wrap.fill(p.message) + "\n\n" for p in nix_patches if p.message),
    )
    # The module list sits in a paragraph of its own words: wrap each paragraph again.
    paragraphs = [
        para if para.startswith(("- ", "python3:")) else wrap.fill(" ".join(para.split()))
        for para in message.strip().split("\n\n")
    ]
    return Spec(
        file=data["file"],
        markers=tuple(data["markers"]),
        issue=data["issue"],
        branch=data["branch"],
        needs=tuple(data["needs"]),
        static=tuple(Flag(f["flag"], tuple(f.get("comment", ()))) for f in data["static"]),
        never_static=tuple(flags),
        never_static_comment=tuple(data["never_static"].get("comment", ())),
        patches=tuple(nix_patches),
        message="\n\n".join(paragraphs) + "\n",
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
    files: dict[str, str] = field(default_factory=dict)  # new files beside default.nix
    patches: list[str] = field(default_factory=list)  # patch files this edit applies

    @property
    def changed(self) -> bool:
        return bool(self.added or self.patches)


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


def _depths(toks: list[Tok]) -> list[int]:
    """How many brackets are open before each token."""
    out, depth = [], 0
    for t in toks:
        if t.kind == "punct" and t.text in _CLOSE:
            depth -= 1
        out.append(depth)
        if t.kind == "punct" and t.text in _OPEN:
            depth += 1
    return out


def _binding(toks: list[Tok], src: str, name: str) -> tuple[int, int]:
    """Token range (start, end) of the expression bound to attribute ``name``, ``end``
    being the index of its terminating ``;``.  The outermost binding counts (the
    derivation's own, not one of a nested derivation such as passthru.doc's), and there
    must be exactly one at that depth."""
    depths = _depths(toks)
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
    top = min(depths[k] for k in hits)
    hits = [k for k in hits if depths[k] == top]
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


def _static_part(toks: list[Tok], src: str, lo: int, hi: int) -> tuple[int, int, int, str]:
    """The static part of configureFlags: (first token, `[` token, `]` token, function
    as spelled).  ``optional static "…"`` (an older layout, one flag) is accepted as
    the list it means; the caller rewrites it."""
    lists = [
        k
        for k in range(lo, hi - 2)
        if toks[k].text == "optionals" and toks[k + 1].text == "static" and toks[k + 2].text == "["
    ]
    singles = [
        k
        for k in range(lo, hi - 2)
        if toks[k].text == "optional" and toks[k + 1].text == "static" and toks[k + 2].kind == "str"
    ]
    hits = lists + singles
    if not hits:
        raise NixpkgsError('configureFlags has no `optionals static [ … ]` (or `optional static "…"`) part to extend')
    if len(hits) > 1:
        raise NixpkgsError(
            f"configureFlags has {len(hits)} `optionals static [ … ]` parts "
            f"({', '.join(_where(src, toks[k].start) for k in sorted(hits))}); expected one"
        )
    k = hits[0]
    first = k - 2 if k >= 2 and toks[k - 1].text == "." and toks[k - 2].kind == "id" else k
    if k in lists:
        return first, k + 2, _matching(toks, k + 2), src[toks[first].start : toks[k].end]
    return first, k + 2, k + 2, src[toks[first].start : toks[k].end]


def edit_configure_flags(src: str, spec: Spec) -> Edit:
    """Add the spec's flags to the CPython derivation ``src`` (and, through
    :func:`edit_patches`, its patches).  Raises NixpkgsError naming what is missing when
    the file is not of the expected shape; nothing is half edited."""
    toks = tokenize(src)
    for name in spec.needs:
        if not any(t.kind == "id" and t.text == name for t in toks):
            raise NixpkgsError(f"the file never mentions `{name}`, which the change needs")
    if not any(toks[k].text == "static" and toks[k + 1].text == "?" for k in range(len(toks) - 1)):
        raise NixpkgsError("the function header has no `static ? …` argument")
    lo, hi = _binding(toks, src, "configureFlags")
    first, opening, closing, fn = _static_part(toks, src, lo, hi)
    patches_edit = edit_patches(src, toks, spec)  # refuses before anything is written

    literals = {t.text for t in toks[lo:hi] if t.kind == "str"}
    present = [f for f in spec.flags if f'"{f}"' in literals]
    static_new = [(comment, [f for f in flags if f not in present]) for comment, flags in spec.groups]
    static_new = [(c, fl) for c, fl in static_new if fl]
    added = [f for _, fl in static_new for f in fl]
    if not added and not patches_edit:
        return Edit(src, [], present)

    before = toks[first - 1] if first > 0 else None
    leading = before is not None and before.text == "++" and _first_on_line(src, before.start)
    base = _indent(src, before.start if leading else toks[first].start)
    edits: list[tuple[int, int, str]] = list(patches_edit)  # (start, end, replacement) in src
    if static_new and opening == closing:
        # `optional static "FLAG"` becomes the list `optionals static [ "FLAG" … ]`.
        item = base + "  "
        lines = [item + toks[opening].text, _render(static_new, item)]
        plural = fn[: -len("optional")] + "optionals"
        edits.append((toks[first].start, toks[opening].end, f"{plural} static [\n" + "\n".join(lines) + f"\n{base}]"))
    elif static_new:
        L, R = toks[opening].start, toks[closing].start
        if "\n" in src[L:R]:
            # A multi-line list: items at the indentation of its first line of content.
            body = [ln for ln in src[L:R].split("\n")[1:] if ln.strip()]
            item = body[0][: len(body[0]) - len(body[0].lstrip())] if body else _indent(src, R) + "  "
            close = _indent(src, R) if _first_on_line(src, R) else base
            text = _render(static_new, item)
            if _first_on_line(src, R):
                edits.append((_line_start(src, R), _line_start(src, R), text + "\n"))
            else:
                edits.append((R, R, "\n" + text + "\n" + close))
        else:
            # A one-line list becomes a multi-line one so that each flag can carry its reason.
            item, close = base + "  ", base
            inner = src[L + 1 : R].strip()
            lines = ([item + inner] if inner else []) + [_render(static_new, item)]
            edits.append((L, R + 1, "[\n" + "\n".join(lines) + "\n" + close + "]"))
    text = src
    for start, end, repl in sorted(edits, key=lambda e: e[0], reverse=True):
        text = text[:start] + repl + text[end:]
    files = {p.file: p.text for p in spec.patches} if patches_edit else {}
    return Edit(text, added, present, files=files, patches=[p.file for p in spec.patches] if patches_edit else [])


def edit_patches(src: str, toks: list[Tok], spec: Spec) -> list[tuple[int, int, str]]:
    """The edit (at most one insertion) that appends the spec's patches to the
    derivation's ``patches`` list under their guards: ``++ optionals (GUARD) [ ./FILE ]``
    after the list's last part, in the file's layout.  None when all are there."""
    if not spec.patches:
        return []
    lo, hi = _binding(toks, src, "patches")
    refs = {t.text for t in toks[lo:hi] if t.kind == "path"}
    missing = [p for p in spec.patches if p.reference not in refs]
    if not missing:
        return []
    fn = "lib.optionals"
    last = toks[hi - 1]  # the token before `;`
    # nixfmt-rfc-style puts `++` at the start of lines; the older layout ends them with it.
    leading = any(toks[k].text == "++" and _first_on_line(src, toks[k].start) for k in range(lo, hi))
    first_tok = toks[lo]
    if leading:
        ops = [toks[k] for k in range(lo, hi) if toks[k].text == "++" and _first_on_line(src, toks[k].start)]
        base = _indent(src, ops[0].start)
    else:
        base = _indent(src, first_tok.start) if _first_on_line(src, first_tok.start) else _indent(src, last.start)
    item = base + "  "
    pos = last.end
    eol = _rest_of_line_is_comment(src, pos)
    if leading and eol is not None:
        pos = eol
    text = ""
    for p in missing:
        body = _render([(p.comment, [])], item)
        body = (body + "\n" if body else "") + item + p.reference
        if leading:
            text += f"\n{base}++ {fn} ({p.guard}) [\n{body}\n{base}]"
        else:
            text += f" ++ {fn} ({p.guard}) [\n{body}\n{base}]"
    return [(pos, pos, text)]


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
    patches: list[str] = field(default_factory=list)  # patch files added beside default.nix

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

    def commit(self, base: str, mode: str, text: str, message: str, who: tuple[str, str], files: dict[str, str]) -> str:
        """A commit on top of ``base`` whose only changes are the spec's file and the new
        ``files`` beside it; nothing but objects is written (a temporary index, outside
        the checkout, builds the tree)."""
        entries = [(mode, self.spec.file, text)]
        entries += [("100644", f"{Path(self.spec.file).parent.as_posix()}/{rel}", body) for rel, body in files.items()]
        with tempfile.TemporaryDirectory(prefix="cpython-static-nixpkgs-") as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read the base tree", "read-tree", base, env=index)
            for file_mode, path, body in entries:
                blob = self.out(f"store {path}", "hash-object", "-w", "--no-filters", "--stdin", stdin=body)
                self.git(f"put {path}", "update-index", "--add", "--cacheinfo", f"{file_mode},{blob},{path}", env=index)
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
            f"{base} ({base_sha[:12]}) already passes {', '.join(spec.flags)} for static builds and applies {', '.join(p.file for p in spec.patches) or 'no patch'}; nothing to commit",
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
    commit = nix.commit(base_sha, mode, edit.text, spec.message, who, edit.files)
    nix.create_branch(branch, commit)
    message = f"branch {branch}: {spec.subject}"
    if fallback:
        message += (
            " (no git identity is configured: committed as "
            f"{who[0]} <{who[1]}>; amend with --reset-author before submitting)"
        )
    outcome = Outcome(
        branch,
        commit,
        base_sha,
        spec.file,
        message,
        edit.added,
        checked,
        author=f"{who[0]} <{who[1]}>",
        patches=edit.patches,
    )
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
