"""``migrate check``: report-only pitfall checks (KC1xx) on any Keras program.

``program`` reads a module statically (imports, scopes, what each name holds);
one module per check looks at that reading (``logits_loss`` KC101,
``padded_softmax`` KC102, ``mask_polarity`` KC103, ``lr_twice`` KC104,
``accuracy_logits`` KC105); ``driver`` runs them over files and notebooks and is
the ``migrate check`` subcommand. Nothing here imports TensorFlow or executes
the program.
"""
