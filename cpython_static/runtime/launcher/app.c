/* The entry point of an executable made by `cpython-static pack`: the interpreter's own
 * main (main.c, included below under another name) plus an app mode.  `pack` compiles
 * this file instead of main.c when it relinks the interpreter (build/relink.py), so
 * plain interpreters are not affected and their cache keys do not change.
 *
 * App mode (the default): the archive appended to this file holds the standard
 * library, the app and its dependencies, and a __main__.py that calls the app's entry
 * point.  The command line is the app's: Python's option parser never sees it
 * (parse_argv = 0, sys.argv is argv as given), and the run is the zipapp one, exactly
 * `python3 archive.zip args...` (run_filename = the archive: its __main__ runs).
 *
 * What the app runs with is fixed by the file, not by the machine it lands on:
 * - isolated: PYTHON* environment variables are ignored, no user site directory, no
 *   working directory on sys.path (an app must not import a stray ./yaml.py);
 * - no site: nothing from <prefix>/lib/pythonX.Y/site-packages of whatever directory
 *   the file was copied to (a system Python's packages, with its glibc extensions);
 * - locale as CPython chooses it (UTF-8 mode under the C locale, as `env -i` gives),
 *   and the allocator main.c chooses.
 *
 * The escape: CPYTHON_STATIC_PYTHON=1 in the environment makes the file the plain
 * interpreter again, every Python option working (`CPYTHON_STATIC_PYTHON=1 ./mytool -c
 * 'import mytool'`, `-m pip`, `-X importtime`).  Only the variable's presence with a
 * non-empty value counts; the app never sees it otherwise.
 */
#define main cpython_static_interpreter_main
#include "main.c"
#undef main

#define ESCAPE "CPYTHON_STATIC_PYTHON"

int
main(int argc, char **argv)
{
    const char *escape = getenv(ESCAPE);
    char *archive = NULL;
    if (!(escape && *escape)) {
        archive = find_archive(argc > 0 ? argv[0] : NULL);
    }
    if (archive == NULL) {
        /* Asked for, or no archive to run (a bare interpreter): the plain interpreter. */
        return cpython_static_interpreter_main(argc, argv);
    }

    PyStatus status;
    PyPreConfig preconfig;
    PyPreConfig_InitPythonConfig(&preconfig);
    preconfig.parse_argv = 0;      /* -X utf8, -E, -I in argv are the app's words */
    preconfig.use_environment = 0; /* PYTHONUTF8, PYTHONMALLOC: the machine's, not ours */
#ifdef WITH_MIMALLOC
    preconfig.allocator = PYMEM_ALLOCATOR_MIMALLOC;
#endif
    status = Py_PreInitializeFromBytesArgs(&preconfig, argc, argv);
    if (PyStatus_Exception(status)) {
        Py_ExitStatusException(status);
    }

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.parse_argv = 0;
    config.isolated = 1;
    config.use_environment = 0;
    config.user_site_directory = 0;
    config.safe_path = 1;
    config.site_import = 0;
    status = PyConfig_SetBytesArgv(&config, argc, argv);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    status = PyConfig_Read(&config);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    status = configure_one_file(&config, &config, archive);  /* parse_argv = 0: one read is safe */
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    status = PyConfig_SetBytesString(&config, &config.run_filename, archive);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    PyMem_RawFree(archive);
    archive = NULL;
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    PyConfig_Clear(&config);

    PyObject *mod = PyImport_ImportModule("_cpython_static");
    if (mod == NULL) {
        PySys_WriteStderr("cpython-static: start-up hook failed:\n");
        PyErr_Print();
    }
    Py_XDECREF(mod);
    return Py_RunMain();

fail:
    PyMem_RawFree(archive);
    PyConfig_Clear(&config);
    if (PyStatus_IsExit(status)) {
        return status.exitcode;
    }
    Py_ExitStatusException(status);
}
