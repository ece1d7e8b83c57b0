/* dlopen(NULL) and dlsym() for a static interpreter: its own C API by name.
 *
 * A dynamically linked CPython answers dlopen(NULL) with the main program's handle and
 * dlsym() looks up any exported symbol in it; that is how ctypes.pythonapi (PyDLL(None))
 * calls the C API, and what code written for glibc probes with ctypes.CDLL(None).  musl's
 * static libc has no dynamic loader: its dlopen() and dlsym() are stubs that fail with
 * "Dynamic loading not supported".  The interpreter is linked with
 * -Wl,--wrap=dlopen,--wrap=dlsym,--wrap=dlclose, so every call in it (ctypes, and the
 * libraries) comes here first:
 *
 * - dlopen(NULL) returns this interpreter's handle; any other file goes to musl's stub,
 *   which fails as before (a static binary still loads no shared object).
 * - dlsym() on that handle (or RTLD_DEFAULT) finds the names CPython's headers export
 *   with PyAPI_FUNC/PyAPI_DATA: what a shared libpython exports.  The table
 *   (own_symbols.h) is generated at build time from the release's own headers; each entry
 *   is a weak reference, so a declared name the build does not define is simply absent.
 *   A name not found goes to musl's stub, whose dlerror() is "Symbol not found: NAME",
 *   which ctypes turns into AttributeError, as for a library that lacks a symbol.
 *
 * No Python.h here: the table declares every symbol as a char, under its own name in
 * assembly only, which no CPython declaration may see. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct own_symbol {
    const char *name;
    void *address;
};

#include "own_symbols.h" /* OWN_SYMBOLS: { "name", &weak_ref }, sorted by name */

void *__real_dlopen(const char *file, int mode);
void *__real_dlsym(void *restrict handle, const char *restrict name);
int __real_dlclose(void *handle);

/* The handle dlopen(NULL) gives: an address no shared object can have. */
static const char self;

static int
by_name(const void *key, const void *entry)
{
    return strcmp((const char *)key, ((const struct own_symbol *)entry)->name);
}

void *
__wrap_dlopen(const char *file, int mode)
{
    return file == NULL ? (void *)&self : __real_dlopen(file, mode);
}

void *
__wrap_dlsym(void *restrict handle, const char *restrict name)
{
    if ((handle == &self || handle == RTLD_DEFAULT) && name != NULL) {
        const struct own_symbol *found = bsearch(
            name, OWN_SYMBOLS, sizeof(OWN_SYMBOLS) / sizeof(OWN_SYMBOLS[0]), sizeof(OWN_SYMBOLS[0]), by_name);
        if (found != NULL && found->address != NULL) {
            return found->address;
        }
    }
    return __real_dlsym(handle, name);
}

int
__wrap_dlclose(void *handle)
{
    return handle == &self ? 0 : __real_dlclose(handle);
}
