/* cpython-static's interpreter entry point: CPython's own `python` main (Py_RunMain, so
 * every command-line option behaves as upstream's).  The build writes it over
 * Programs/python.c, so CPython's Makefile compiles and links it as `python` (PGO trains
 * it, LTO sees it).  Added to upstream's main, what a static, drop-anywhere interpreter
 * needs before and after start-up:
 *
 * 1. One-file layout.  When a zip archive is appended to this executable it holds the
 *    standard library.  The archive itself goes on sys.path, where CPython's zipimport
 *    (frozen into the interpreter, so usable before anything else is imported) reads it in
 *    place: nothing is extracted, no writable directory is needed.  sys.prefix is the
 *    directory above the executable's, as for `<prefix>/bin/python3.X` of an installed
 *    tree, so site-packages, venvs and `pip install --user` work as usual.  Where that
 *    prefix has a `lib/python3.X` directory it follows the archive on sys.path, as an
 *    installed tree's stdlib directory follows its python3X.zip: modules the archive
 *    leaves out (CPython's own `test` package) can be added beside the file and are
 *    found with -S, -E and -I too; the archive's modules always win.  Without an
 *    appended archive (the `tree` layout) CPython's own path calculation is left alone.
 *
 * 2. After initialisation, `import _cpython_static` (from the archive or the tree) sets
 *    up what cannot be compiled in: a clear error for C extension modules (a static
 *    binary has no dynamic loader) and the discovery of the system's CA certificates.
 *
 * 3. The allocator.  Where CPython bundles mimalloc (3.13+) it is the default here
 *    instead of pymalloc on top of musl's malloc, which is slow (the README has the
 *    figures).  PYTHONMALLOC, when CPython would honour it, and development mode (whose
 *    debug hooks upstream installs) still decide, as upstream.
 *
 * Only the public PyConfig API is used, identically on 3.11 to 3.14 (proven there).
 */
#define PY_SSIZE_T_CLEAN
#include "Python.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

/* Whether the file ends in a zip "end of central directory" record with no comment:
 * the exact shape cpython-static appends.  Anything else means the tree layout. */
static int
ends_with_zip(const char *path)
{
    unsigned char eocd[22];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    off_t end = lseek(fd, 0, SEEK_END);
    int ok = end >= (off_t)sizeof(eocd)
        && pread(fd, eocd, sizeof(eocd), end - (off_t)sizeof(eocd)) == (ssize_t)sizeof(eocd)
        && memcmp(eocd, "PK\005\006", 4) == 0;
    close(fd);
    return ok;
}

static char *
copy_string(const char *text)
{
    size_t n = strlen(text) + 1;
    char *copy = PyMem_RawMalloc(n);
    if (copy) {
        memcpy(copy, text, n);
    }
    return copy;
}

/* argv[0] as an absolute path, the way CPython's getpath resolves it: relative to the
 * working directory when it has a slash, else the first match on PATH. */
static char *
resolve_argv0(const char *argv0)
{
    char buf[PATH_MAX];
    if (argv0 == NULL || *argv0 == '\0') {
        return NULL;
    }
    if (strchr(argv0, '/')) {
        if (argv0[0] == '/') {
            return copy_string(argv0);
        }
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            return NULL;
        }
        while (argv0[0] == '.' && argv0[1] == '/') {
            argv0 += 2;
        }
        snprintf(buf, sizeof(buf), "%s/%s", strcmp(cwd, "/") ? cwd : "", argv0);
        return copy_string(buf);
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len < sizeof(buf) - 2) {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, argv0);
            if (buf[0] == '/' && access(buf, X_OK) == 0) {
                return copy_string(buf);
            }
        }
        path = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The file holding the standard library: this executable as it was invoked (in a venv,
 * the venv's link or copy, which is this same file), else the kernel's idea of it, which
 * needs /proc (absent in a bare chroot, hence not first).  Path configuration proper is
 * only computed at initialisation, so this cannot ask CPython. */
static char *
find_archive(const char *argv0)
{
    char *path = resolve_argv0(argv0);
    if (path && ends_with_zip(path)) {
        return path;
    }
    PyMem_RawFree(path);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        if (ends_with_zip(self)) {
            return copy_string(self);
        }
    }
    return NULL;
}

/* <prefix>/bin/python3.X -> <prefix>: the real file's grandparent directory, as bytes.
 * (Paths stay bytes until they go into the configuration: before initialisation only
 * the raw allocator may be used, and Py_EncodeLocale allocates with PyMem_Malloc,
 * which the debug hooks of -X dev and PYTHONMALLOC=debug refuse without a GIL.) */
static void
prefix_path(const char *archive, char *buf, size_t size)
{
    char real[PATH_MAX];
    const char *path = realpath(archive, real) ? real : archive;
    snprintf(buf, size, "%s", path);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(buf, '/');
        if (slash == NULL) {
            break;
        }
        if (slash == buf) {
            buf[1] = '\0';
            break;
        }
        *slash = '\0';
    }
}

static wchar_t *
prefix_of(const char *archive)
{
    char buf[PATH_MAX];
    prefix_path(archive, buf, sizeof(buf));
    return Py_DecodeLocale(buf, NULL);  /* raw allocator: freed with PyMem_RawFree */
}

/* A venv whose interpreter is a copy of this file (`venv --copies`): its prefix has a
 * pyvenv.cfg naming the base interpreter's directory (`home = <base>/bin`), whose
 * parent is the base prefix, as CPython's getpath takes it.  (A symlinked venv needs
 * nothing: the real file's prefix is the base one, and site reads pyvenv.cfg.)
 * NULL when there is no such file or key. */
static wchar_t *
venv_base_of(const char *archive)
{
    char prefix[PATH_MAX];
    prefix_path(archive, prefix, sizeof(prefix));
    char cfg[PATH_MAX];
    int n = snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", strcmp(prefix, "/") ? prefix : "");
    FILE *f = n > 0 && n < (int)sizeof(cfg) ? fopen(cfg, "re") : NULL;
    if (f == NULL) {
        return NULL;
    }
    char line[PATH_MAX + 64];
    wchar_t *base = NULL;
    while (base == NULL && fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            continue;
        }
        char *key = line, *end = eq;
        while (*key == ' ' || *key == '\t') key++;
        while (end > key && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if (end - key != 4 || strncasecmp(key, "home", 4) != 0) {
            continue;
        }
        char *value = eq + 1;
        while (*value == ' ' || *value == '\t') value++;
        size_t len = strcspn(value, "\r\n");
        while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t')) len--;
        value[len] = '\0';
        char *slash = strrchr(value, '/');
        if (value[0] != '/' || slash == NULL) {
            break;  /* not an absolute directory: leave the prefix alone */
        }
        if (slash == value) {
            slash[1] = '\0';
        } else {
            *slash = '\0';
        }
        base = Py_DecodeLocale(value, NULL);
    }
    fclose(f);
    return base;
}

/* <prefix>/lib/python3.X after the archive, when it is a directory (PYTHONHOME, when
 * given, is the prefix, as it is for sys.prefix). */
static PyStatus
append_stdlib_dir(PyWideStringList *paths, const PyConfig *read, const char *archive)
{
    char base[PATH_MAX];
    if (read->home) {
        /* PYTHONHOME as given (the bytes the configuration decoded) */
        const char *home = getenv("PYTHONHOME");
        if (home == NULL || strchr(home, ':')) {
            return PyStatus_Ok();  /* set otherwise, or prefix:exec_prefix: nothing to add */
        }
        snprintf(base, sizeof(base), "%s", home);
    }
    else {
        prefix_path(archive, base, sizeof(base));
    }
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof(dir), "%s%slib/python%d.%d", base, strcmp(base, "/") ? "/" : "",
                     PY_MAJOR_VERSION, PY_MINOR_VERSION);
    struct stat st;
    if (n < 0 || n >= (int)sizeof(dir) || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return PyStatus_Ok();
    }
    wchar_t *wdir = Py_DecodeLocale(dir, NULL);
    if (wdir == NULL) {
        return PyStatus_NoMemory();
    }
    PyStatus status = PyWideStringList_Append(paths, wdir);
    PyMem_RawFree(wdir);
    return status;
}

/* The one-file layout's paths, set in `config` before initialisation (which keeps what
 * is set).  `read` is the command line and environment as CPython reads them (-E, -I,
 * PYTHONHOME): `config` itself once read, or a read copy of it. */
static PyStatus
configure_one_file(PyConfig *config, const PyConfig *read, const char *archive)
{
    PyStatus status;
    wchar_t *warchive = Py_DecodeLocale(archive, NULL);
    if (warchive == NULL) {
        return PyStatus_NoMemory();
    }
    /* As CPython would: PYTHONPATH's entries first (unless -E/-I), then the archive in
     * place of the stdlib directories, which do not exist. */
    PyWideStringList paths = {0, NULL};
    const char *env = read->use_environment ? getenv("PYTHONPATH") : NULL;
    if (env && *env) {
        wchar_t *wenv = Py_DecodeLocale(env, NULL);
        if (wenv == NULL) {
            status = PyStatus_NoMemory();
            goto done;
        }
        wchar_t *state = NULL;
        for (wchar_t *item = wcstok(wenv, L":", &state); item; item = wcstok(NULL, L":", &state)) {
            status = PyWideStringList_Append(&paths, item);
            if (PyStatus_Exception(status)) {
                break;
            }
        }
        PyMem_RawFree(wenv);
        if (PyStatus_Exception(status)) {
            goto done;
        }
    }
    status = PyWideStringList_Append(&paths, warchive);
    if (PyStatus_Exception(status)) {
        goto done;
    }
    status = append_stdlib_dir(&paths, read, archive);
    if (PyStatus_Exception(status)) {
        goto done;
    }
    status = PyConfig_SetWideStringList(config, &config->module_search_paths,
                                        paths.length, paths.items);
    if (PyStatus_Exception(status)) {
        goto done;
    }
    config->module_search_paths_set = 1;
    status = PyConfig_SetString(config, &config->stdlib_dir, warchive);
    if (PyStatus_Exception(status)) {
        goto done;
    }
    if (read->home == NULL) {  /* PYTHONHOME, when given, still decides the prefix */
        wchar_t *prefix = prefix_of(archive);
        if (prefix == NULL) {
            status = PyStatus_NoMemory();
            goto done;
        }
        wchar_t *base = venv_base_of(archive);
        wchar_t **fields[] = {&config->prefix, &config->exec_prefix,
                              &config->base_prefix, &config->base_exec_prefix};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            status = PyConfig_SetString(config, fields[i], i >= 2 && base ? base : prefix);
            if (PyStatus_Exception(status)) {
                break;
            }
        }
        PyMem_RawFree(base);
        PyMem_RawFree(prefix);
    }
done:
    for (Py_ssize_t i = 0; i < paths.length; i++) {
        PyMem_RawFree(paths.items[i]);
    }
    PyMem_RawFree(paths.items);
    PyMem_RawFree(warchive);
    return status;
}

#ifdef WITH_MIMALLOC
/* Whether the command line or environment chose an allocator (or development mode, which
 * chooses the debug one) the way CPython would read them: -E and -I ignore PYTHON*. */
static int
allocator_chosen(int argc, char **argv)
{
    int use_env = 1;
    for (int i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0 || arg[1] == '-') {
            break;  /* -- ends the options; --help and the like choose nothing */
        }
        if (arg[1] == 'X' || arg[1] == 'W') {  /* -X opt / -Xopt, -W arg / -Warg */
            const char *value = arg[2] ? arg + 2 : (i + 1 < argc ? argv[++i] : "");
            if (arg[1] == 'X' && strcmp(value, "dev") == 0) {
                return 1;
            }
            continue;
        }
        /* Single-letter flags, possibly grouped (-IS); -c and -m end the options. */
        for (const char *c = arg + 1; *c; c++) {
            if (*c == 'E' || *c == 'I') {
                use_env = 0;
            }
            if (*c == 'c' || *c == 'm') {
                goto done;
            }
        }
    }
done:
    return use_env && ((getenv("PYTHONMALLOC") && *getenv("PYTHONMALLOC"))
                       || (getenv("PYTHONDEVMODE") && *getenv("PYTHONDEVMODE")));
}
#endif

int
main(int argc, char **argv)
{
    PyStatus status;
#ifdef WITH_MIMALLOC
    if (!allocator_chosen(argc, argv)) {
        PyPreConfig preconfig;
        PyPreConfig_InitPythonConfig(&preconfig);
        preconfig.allocator = PYMEM_ALLOCATOR_MIMALLOC;
        status = Py_PreInitializeFromBytesArgs(&preconfig, argc, argv);
        if (PyStatus_Exception(status)) {
            Py_ExitStatusException(status);
        }
    }
#endif
    PyConfig config;
    PyConfig_InitPythonConfig(&config);

    status = PyConfig_SetBytesArgv(&config, argc, argv);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    char *archive = find_archive(argc > 0 ? argv[0] : NULL);
    if (archive) {
        /* The command line and environment (-E, -I, PYTHONHOME, ...) read from a copy;
         * the paths are computed later, at initialisation, keeping whatever is set here.
         * Not `config` itself: initialisation would then read it a second time, and a
         * second read re-derives -X warn_default_encoding from the argv the first one
         * consumed, losing it (CPython 3.11-3.14, initconfig.c core_read_precmdline). */
        PyConfig read;
        PyConfig_InitPythonConfig(&read);
        status = PyConfig_SetBytesArgv(&read, argc, argv);
        if (!PyStatus_Exception(status)) {
            status = PyConfig_Read(&read);
        }
        if (!PyStatus_Exception(status)) {
            status = configure_one_file(&config, &read, archive);
        }
        PyConfig_Clear(&read);
        PyMem_RawFree(archive);
        if (PyStatus_Exception(status)) {
            goto fail;
        }
    }
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    PyConfig_Clear(&config);

    PyObject *mod = PyImport_ImportModule("_cpython_static");
    if (mod == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {
            PyErr_Clear();  /* an interpreter not published by cpython-static (the cache's) */
        }
        else {
            /* A user's program still runs (most of it does not need the hook); the
             * line below is what `cpython-static verify`'s hook check fails on. */
            PySys_WriteStderr("cpython-static: start-up hook failed:\n");
            PyErr_Print();
        }
    }
    Py_XDECREF(mod);
    return Py_RunMain();

fail:
    PyConfig_Clear(&config);
    if (PyStatus_IsExit(status)) {
        return status.exitcode;
    }
    Py_ExitStatusException(status);
}
