# Included after CPython's own Makefile (make -f Makefile -f launcher.mk ...): links
# cpython-static's entry point exactly as Makefile.pre.in links `python`, with the same
# objects, libraries and flags, so nothing but main() differs.
CPYTHON_STATIC_MAIN ?= main.c

Programs/cpython_static_main.o: $(CPYTHON_STATIC_MAIN)
	$(CC) -c $(PY_CORE_CFLAGS) -o $@ $(CPYTHON_STATIC_MAIN)

cpython-static-python: Programs/cpython_static_main.o $(LINK_PYTHON_DEPS)
	$(LINKCC) $(PY_CORE_LDFLAGS) $(LINKFORSHARED) -o $@ Programs/cpython_static_main.o $(LINK_PYTHON_OBJS) $(LIBS) $(MODLIBS) $(SYSLIBS)
