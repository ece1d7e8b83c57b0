"""cpython-static's start-up hook: imported by the interpreter's main() right after
initialisation, whatever the command line (-I, -S and -E included).

What a static, drop-anywhere interpreter needs and cannot get from its build:

* C extension modules (``.so``) cannot be loaded: a static binary has no dynamic loader.
  Importing one fails with an ImportError that says so and what to do instead, rather
  than musl's bare "Dynamic loading not supported".
* Installers must not pick binary wheels.  The interpreter reports no manylinux or
  musllinux compatibility (it has no glibc and no musl loader), but ``linux_<arch>``
  wheels (local builds, private indexes, pip's wheel cache) would still match: the
  platform tags of ``packaging.tags`` (pip's vendored copy included) are emptied, so only
  pure ``*-none-any`` wheels and sdists are candidates.
* The system's CA certificates live at a different path on each distribution, and the
  OpenSSL built in only knows its compiled-in directory.  ``ssl`` looks in the places Go's
  crypto/x509 (root_linux.go) looks, honours SSL_CERT_FILE/SSL_CERT_DIR, and says clearly
  when there are none.  Nothing of it runs before ``ssl`` is first imported, and the
  certificates are looked for only when a context loads its default certificates.
* The one-file archive keeps module sources and tzdata's zone files in one member each
  (stdlib_zip.py: fewer members make every start-up's directory read cheap).  Source
  lines (tracebacks, ``inspect``, ``linecache``) and zones are read from them on demand.

Standard library only, Python 3.11 syntax: it runs inside the interpreter being started.
"""

import _frozen_importlib as _bootstrap
import _frozen_importlib_external as _external
import sys

# The first of these files that exists is loaded (the order of Go's root_linux.go, plus
# Arch's extracted bundle, which its ca-certificates.crt links to).
CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian/Ubuntu/Gentoo/Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora/RHEL 6
    "/etc/ssl/ca-bundle.pem",  # openSUSE/SLES
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS/RHEL 7+, Fedora
    "/etc/ssl/cert.pem",  # Alpine
    "/etc/ca-certificates/extracted/tls-ca-bundle.pem",  # Arch
)
# Hashed directories (c_rehash layout), each loaded when present.
CA_DIRS = (
    "/etc/ssl/certs",  # SLES10/SLES11, Debian
    "/etc/pki/tls/certs",  # Fedora/RHEL
)

# What the hook did, for `cpython-static verify` (its "hook" check): each piece
# installed at start-up, and each fix-up as it is applied on its module's first import
# ("applied", or why it was not needed).  A new CPython release that moves a private
# internal shows here rather than as a silent no-op.
REPORT = {"installed": [], "fixups": {}}

_STATIC = "this Python is statically linked (cpython-static) and cannot load compiled extension modules"


def _refusal(name, origin):
    return ImportError(
        f"cannot load the C extension module {name!r} from {origin}: {_STATIC}. "
        "Use a pure-Python distribution of the package (pip installs only pure wheels "
        "here), or build an interpreter with the module compiled in.",
        name=name,
        path=origin,
    )


def _refuse_extension(self, spec):
    raise _refusal(spec.name, spec.origin)


class _SharedObjectFinder:
    """Last on sys.meta_path, so it only runs for a module nothing else found: a shared
    object of that name built for another interpreter (``name.cpython-313-x86_64-linux-
    gnu.so`` has a suffix this one does not even look for) is named, with the reason."""

    def find_spec(self, fullname, path=None, target=None):
        import os

        leaf = fullname.rpartition(".")[2]
        for entry in sys.path if path is None else path:
            try:
                names = os.listdir(entry or ".")
            except (OSError, TypeError):
                continue
            for name in names:
                if name.startswith(leaf + ".") and name.endswith(".so") and "/" not in name:
                    raise _refusal(fullname, os.path.join(entry, name))
        return None


class _BuiltinSubmoduleFinder:
    """Before 3.12, BuiltinImporter finds no submodule (it returns None whenever a package
    path is given), so a package's C extension built in under its dotted name (`build
    --with`, `pack`: ``psutil._psutil_linux`` in the inittab) was never found.  This asks
    it again without the path, as 3.12's BuiltinImporter does."""

    def find_spec(self, fullname, path=None, target=None):
        import _imp

        if path is None or "." not in fullname or not _imp.is_builtin(fullname):
            return None
        return _bootstrap.BuiltinImporter.find_spec(fullname)


class _ThenLoader:
    """The module's own loader, then a fix-up; everything else is delegated (so
    get_source, resource readers, … behave as the real loader's)."""

    def __init__(self, loader, fixup):
        self._loader, self._fixup = loader, fixup

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        module.__spec__.loader = module.__loader__ = self._loader  # done: out of the way
        REPORT["fixups"][module.__name__] = self._fixup(module) or "applied"


class _AfterImport:
    """A meta path finder that finds nothing itself: it attaches a fix-up to the first
    import of the modules it knows, found by the finders after it."""

    def __init__(self, fixups):
        self._fixups = fixups

    def find_spec(self, name, path=None, target=None):
        fixup = self._fixups.get(name)
        if fixup is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _ThenLoader(spec.loader, fixup)
                return spec
        return None


# ---------------------------------------------------------------------------- TLS trust
def _check_env_paths(os):
    """SSL_CERT_FILE/SSL_CERT_DIR naming nothing is a mistake to report, not to skip."""
    cafile = os.environ.get("SSL_CERT_FILE")
    if cafile and not os.path.isfile(cafile):
        raise FileNotFoundError(2, f"SSL_CERT_FILE names {cafile!r}, which is not a file", cafile)
    for capath in filter(None, os.environ.get("SSL_CERT_DIR", "").split(":")):
        if not os.path.isdir(capath):
            raise FileNotFoundError(2, f"SSL_CERT_DIR names {capath!r}, which is not a directory", capath)
    return bool(cafile or os.environ.get("SSL_CERT_DIR"))


def _fix_ssl(ssl):
    import os

    openssl_defaults = ssl.SSLContext.set_default_verify_paths

    def set_default_verify_paths(self):
        """Load the system's CA certificates: SSL_CERT_FILE/SSL_CERT_DIR when set, else
        the distribution's bundle and hashed directory (cpython-static).  Returns whether
        any location was found."""
        if _check_env_paths(os):
            openssl_defaults(self)  # OpenSSL reads the variables itself
            return True
        found = False
        cafile = next((f for f in CA_FILES if os.path.isfile(f)), None)
        if cafile:
            self.load_verify_locations(cafile=cafile)
            found = True
        for capath in CA_DIRS:
            if os.path.isdir(capath):
                self.load_verify_locations(capath=capath)
                found = found or any(_is_hashed(n) for n in os.listdir(capath))
        return found

    def load_default_certs(self, purpose=ssl.Purpose.SERVER_AUTH):
        if not isinstance(purpose, ssl._ASN1Object):
            raise TypeError(purpose)
        if not self.set_default_verify_paths() and purpose == ssl.Purpose.SERVER_AUTH:
            raise ssl.SSLError(
                "no CA certificates found to verify servers with: looked for "
                + ", ".join(CA_FILES)
                + " and hashed certificates in "
                + ", ".join(CA_DIRS)
                + ". Install your distribution's ca-certificates package, or set "
                "SSL_CERT_FILE (a PEM bundle) or SSL_CERT_DIR (a hashed directory)."
            )

    def get_default_verify_paths():
        paths = ssl_get_default_verify_paths()
        cafile = os.environ.get("SSL_CERT_FILE") or next((f for f in CA_FILES if os.path.isfile(f)), None)
        capath = os.environ.get("SSL_CERT_DIR") or next((d for d in CA_DIRS if os.path.isdir(d)), None)
        return paths._replace(cafile=cafile, capath=capath)

    ssl_get_default_verify_paths = ssl.get_default_verify_paths
    ssl.SSLContext.set_default_verify_paths = set_default_verify_paths
    ssl.SSLContext.load_default_certs = load_default_certs
    ssl.get_default_verify_paths = get_default_verify_paths


def _is_hashed(name):
    stem, dot, n = name.partition(".")
    return dot and n.isdigit() and len(stem) == 8 and all(c in "0123456789abcdef" for c in stem)


# ---------------------------------------------------------------------------- ensurepip
def _fix_ensurepip(ensurepip):
    """ensurepip copies its bundled wheel under the name importlib.resources.as_file gave
    it, which for a resource inside a zip is a temporary ``tmpXXXXpip-….whl``: pip then
    cannot parse the name and finds no pip to install.  Hand it the wheel under its own
    name (3.12+; 3.11's ensurepip writes the file itself).

    patches/0004 fixes ensurepip itself (the fix meant for upstream): its
    _get_bundled_pip_whl_path_ctx is the sign, and then nothing is wrapped.  Builds
    without it (--no-patches, a release the series does not cover) keep the wrapper."""
    if hasattr(ensurepip, "_get_bundled_pip_whl_path_ctx"):
        return "not needed: ensurepip keeps the bundled wheel's name itself (patch 0004)"
    original = getattr(ensurepip, "_get_pip_whl_path_ctx", None)
    if original is None:
        return "not needed: this ensurepip has no _get_pip_whl_path_ctx (3.11 writes the wheel itself)"
    import contextlib
    import os
    import shutil
    import tempfile

    @contextlib.contextmanager
    def _get_pip_whl_path_ctx():
        with original() as path, tempfile.TemporaryDirectory() as tmp:
            name = f"pip-{ensurepip._PIP_VERSION}-py3-none-any.whl"
            # Only as_file's temporary copy of the bundled wheel is renamed (its name is
            # a random prefix + the real one): a wheel of WHEEL_PKG_DIR keeps its own.
            found = os.path.basename(path)
            if found == name or not found.endswith(name):
                yield path
                return
            copy = os.path.join(tmp, name)
            shutil.copyfile(path, copy)
            yield type(path)(copy)

    ensurepip._get_pip_whl_path_ctx = _get_pip_whl_path_ctx


# --------------------------------------------------------------------------- wheel tags
def _no_platform_tags(tags):
    tags.platform_tags = lambda: iter(())


# ------------------------------------------------- the archive's sources and tzdata
# The members stdlib_zip.py writes (keep the names in step with it).
SOURCES_MEMBER = "cpython-static-sources.zip"
TZDATA_MEMBER = "cpython-static-tzdata.zip"
# The archive this module came from: None in the tree layout (sources on disk).
_ARCHIVE = getattr(globals().get("__loader__"), "archive", None)
_MEMBERS = {}


def _member(name):
    """The zip stored as member ``name`` of the archive, opened on first use (None when
    there is no such member)."""
    if name not in _MEMBERS:
        import io
        import zipfile

        inner = None
        if _ARCHIVE:
            with zipfile.ZipFile(_ARCHIVE) as outer:
                if name in outer.NameToInfo:
                    inner = zipfile.ZipFile(io.BytesIO(outer.read(name)))
        _MEMBERS[name] = inner
    return _MEMBERS[name]


def _fix_zip_sources(zipimport):
    """zipimporter.get_source: the archive's own answer, else the sources member."""
    original = zipimport.zipimporter.get_source
    module_path, module_info = zipimport._get_module_path, zipimport._get_module_info

    def get_source(self, fullname):
        source = original(self, fullname)
        if source is not None or self.archive != _ARCHIVE:
            return source
        sources = _member(SOURCES_MEMBER)
        ispkg = module_info(self, fullname)
        if sources is None or ispkg is None:
            return None
        name = module_path(self, fullname) + ("/__init__.py" if ispkg else ".py")
        try:
            data = sources.read(name)
        except KeyError:
            return None
        return _external.decode_source(data)

    zipimport.zipimporter.get_source = get_source


def _archive_source(filename):
    """The text of ``<archive>/name.py`` (the main archive's member, else the sources
    member's), or None for a path outside the archive or not in it."""
    if not _ARCHIVE or not filename.startswith(_ARCHIVE + "/"):
        return None
    name = filename[len(_ARCHIVE) + 1 :]
    for archive in (_member(SOURCES_MEMBER),):
        if archive is not None and name in archive.NameToInfo:
            return _external.decode_source(archive.read(name))
    return None


def _fix_linecache(linecache):
    """linecache.getline(path) of a standard-library file: the path is inside the
    executable, where no open() finds it; the archive has its source.  Module globals
    (tracebacks) already reach it through the loader; a bare path now does too."""
    original = linecache.updatecache

    def updatecache(filename, module_globals=None):
        lines = original(filename, module_globals)
        if lines:
            return lines
        source = _archive_source(filename)
        if source is None:
            return lines
        lines = source.splitlines(True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        # No mtime: checkcache keeps the entry (the archive does not change under us).
        linecache.cache[filename] = (len(source), None, lines, filename)
        return lines

    linecache.updatecache = updatecache
    return "reads standard-library paths from the archive"


class _TzdataFinder:
    """Finds ``tzdata`` and its subpackages (one per zone directory, as the wheel has
    them) in the tzdata member.  Last on sys.meta_path: a tzdata the user installed
    (newer zones) wins."""

    def find_spec(self, name, path=None, target=None):
        if name != "tzdata" and not name.startswith("tzdata."):
            return None
        zones = _member(TZDATA_MEMBER)
        directory = name.replace(".", "/")
        if zones is None or f"{directory}/__init__.py" not in zones.NameToInfo:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(name, _TzdataLoader(zones, directory), is_package=True)


class _TzdataLoader:
    def __init__(self, zones, directory):
        self._zones, self._dir = zones, directory

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename = f"{_ARCHIVE}/{TZDATA_MEMBER}/{self._dir}/__init__.py"
        exec(compile(self._zones.read(f"{self._dir}/__init__.py"), filename, "exec"), module.__dict__)

    # importlib.resources: the package's files are the member's directory.
    def get_resource_reader(self, name):
        return self

    def files(self):
        import zipfile

        return zipfile.Path(self._zones, self._dir + "/")


# ------------------------------------------------------------------- source file names
def _fix_zip_filenames():
    """Code compiled into the archive names its file relative to the archive; once
    imported, name it where it is (archive path + member), as __file__ does."""
    import _imp
    import zipimport

    unmarshal = zipimport._unmarshal_code

    def _unmarshal_code(self, pathname, fullpath, fullname, data):
        code = unmarshal(self, pathname, fullpath, fullname, data)
        if code is not None and pathname.endswith(".pyc"):
            _imp._fix_co_filename(code, pathname[:-1])
        return code

    zipimport._unmarshal_code = _unmarshal_code


def _fix_zip_file_attrs(zipimport):
    """A module of the archive is named ``<archive>/name.py`` (its ``__file__`` and spec
    origin), as the frozen ones already are (os, site, …) and as modules of a zipped
    stdlib with sources are: its source is there, in the sources member (tracebacks,
    ``linecache``, ``inspect`` read it); only bytecode is stored beside the name."""
    original = zipimport.zipimporter.get_filename

    def get_filename(self, fullname):
        path = original(self, fullname)
        if self.archive == _ARCHIVE and path.endswith(".pyc"):
            return path[:-1]
        return path

    zipimport.zipimporter.get_filename = get_filename
    # Modules imported before this hook (encodings and the hook itself): the same names.
    import _imp

    for name, module in list(sys.modules.items()):
        loader = getattr(module, "__loader__", None)
        path = getattr(module, "__file__", None) or ""
        if getattr(loader, "archive", None) != _ARCHIVE or not path.endswith(".pyc"):
            continue
        module.__file__ = path[:-1]
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.origin = path[:-1]
        for value in list(vars(module).values()):
            for code in _codes_of(value):
                if not code.co_filename.startswith("<"):  # this hook's (stdlib_zip.py)
                    _imp._fix_co_filename(code, path[:-1])


def _codes_of(value):
    """The code objects of a function, or of a class's functions (one level: what a
    module imported before the hook defines)."""
    if isinstance(value, type):
        for attr in list(vars(value).values()):
            attr = getattr(attr, "__func__", attr)  # staticmethod, classmethod
            code = getattr(attr, "__code__", None)
            if code is not None:
                yield code
        return
    code = getattr(value, "__code__", None)
    if code is not None:
        yield code


def _fix_venv(venv):
    """``python -m venv``'s activate scripts are data files of the venv package, which
    EnvBuilder copies with os.walk over their directory: inside the archive there is no
    directory to walk, and a venv would get none.  Scripts asked for from the archive
    are copied out of it first."""
    original = venv.EnvBuilder.install_scripts

    def install_scripts(self, context, path):
        if not _ARCHIVE or not str(path).startswith(_ARCHIVE + "/"):
            return original(self, context, path)
        import os
        import tempfile
        import zipfile

        prefix = str(path)[len(_ARCHIVE) + 1 :].rstrip("/") + "/"
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(_ARCHIVE) as archive:
            for info in archive.infolist():
                if info.filename.startswith(prefix) and not info.is_dir():
                    target = os.path.join(tmp, info.filename[len(prefix) :])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "wb") as out:
                        out.write(archive.read(info))
            return original(self, context, tmp)

    venv.EnvBuilder.install_scripts = install_scripts
    return "copies the activate scripts out of the archive"


# ------------------------------------------------------------- pip install of a C extension
def _refuse_build_ext(module):
    """`pip install psutil` in a venv of this interpreter: the sdist's setuptools build
    would fail on a missing Python.h (or make a .so this interpreter cannot load); say
    what works instead, before any compiler runs."""
    cls = module.build_ext

    def build_extension(self, ext):
        dist = self.distribution.get_name() or ext.name
        raise SystemExit(
            f"cpython-static: {dist} has the C extension module {ext.name!r}; {_STATIC}, so pip cannot "
            f"install it here. Compile it into the interpreter instead: `cpython-static build "
            f"{sys.version.split()[0]} --with {dist}`, or `cpython-static pack` your app with {dist} "
            "among its dependencies (one executable, C extensions built in)."
        )

    cls.build_extension = build_extension
    return "refuses C extension builds"


def install():
    _external.ExtensionFileLoader.create_module = _refuse_extension
    REPORT["installed"].append("extension-refusal")
    if sys.version_info < (3, 12):
        after = next(
            (i + 1 for i, f in enumerate(sys.meta_path) if f is _bootstrap.BuiltinImporter), len(sys.meta_path)
        )
        sys.meta_path.insert(after, _BuiltinSubmoduleFinder())
        REPORT["installed"].append("builtin-submodules")
    if "zipimport" in sys.modules:
        _fix_zip_filenames()
        REPORT["installed"].append("zip-filenames")
        if _ARCHIVE:
            _fix_zip_sources(sys.modules["zipimport"])
            _fix_zip_file_attrs(sys.modules["zipimport"])
            sys.meta_path.append(_TzdataFinder())
            REPORT["installed"] += ["zip-sources", "zip-file-attrs", "tzdata-member"]
    sys.meta_path.insert(
        0,
        _AfterImport(
            {
                "ssl": _fix_ssl,
                "ensurepip": _fix_ensurepip,
                "packaging.tags": _no_platform_tags,
                "pip._vendor.packaging.tags": _no_platform_tags,
                "setuptools.command.build_ext": _refuse_build_ext,
                "linecache": _fix_linecache,
                "venv": _fix_venv,
            }
        ),
    )
    sys.meta_path.append(_SharedObjectFinder())
    REPORT["installed"] += ["after-import-fixups", "shared-object-finder"]
    if "linecache" in sys.modules and _ARCHIVE:  # imported before the hook (python -X importtime …)
        REPORT["fixups"]["linecache"] = _fix_linecache(sys.modules["linecache"])


install()
