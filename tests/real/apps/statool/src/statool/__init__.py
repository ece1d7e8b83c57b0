"""statool: what the tests of `cpython-static pack` run inside an empty root."""
