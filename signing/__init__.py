"""PAdES seals and signatures with pyHanko: bytes in, signed bytes out, no knowledge of cases."""
