"""The ground floor: errors, the command runner, the cache, a command's context, atomic
files, git and CPU names.  Imports nothing of the layers above."""
