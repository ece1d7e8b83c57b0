"""What runs inside the built interpreter (package data, standard library only): the
launcher's main(), the start-up hook, the smoke checks and the stdlib archive writer."""
