"""``migrate rewrite``: the libcst codemod from legacy Keras to Keras 3.

``engine`` runs files (and notebooks, via ``notebook``) through the single-pass
rule pipeline in ``transform``; rules live in ``rules/`` (tables as data,
structural rules one module each).
"""
