"""The rule registry is consistent: every rule id has a hook, every hook's ids are in the catalog,
overlapping hooks are ordered, and the pre-filter's words are the rules' own."""

from __future__ import annotations

import pkgutil

from migrate.rewrite import catalog, prefilter, registry
from migrate.rewrite import rules as rules_package
from migrate.rewrite.hooks import CALL, KINDS, Hook


def test_every_catalog_id_has_a_hook() -> None:
    hooked = {rule_id for r in registry.rules() if r.spec.hooks for rule_id in r.spec.ids}
    missing = [r.id for r in catalog.RULES if r.id not in hooked]
    assert not missing, f"rule ids with no hook in any rules/ module: {missing}"


def test_every_hooked_id_is_in_the_catalog() -> None:
    unknown = [(r.name, rule_id) for r in registry.rules() for rule_id in r.spec.ids
               if rule_id not in catalog.RULES_BY_ID]
    assert not unknown, f"ids declared by rule modules but missing from catalog.RULES: {unknown}"


def test_each_id_belongs_to_one_module() -> None:
    owners: dict[str, list[str]] = {}
    for r in registry.rules():
        for rule_id in r.spec.ids:
            owners.setdefault(rule_id, []).append(r.name)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


def test_every_rules_module_is_registered_with_hooks() -> None:
    modules = {m.name for m in pkgutil.iter_modules(rules_package.__path__) if not m.name.startswith("_")}
    assert {r.name for r in registry.rules()} == modules
    assert all(r.spec.hooks for r in registry.rules())


def test_no_overlapping_hooks_without_declared_order() -> None:
    assert registry.conflicts() == []


def test_hook_functions_share_one_signature_per_kind() -> None:
    assert registry.signature_problems() == []
    for r in registry.rules():
        assert set(r.functions) <= set(KINDS)


def test_declared_order_is_respected() -> None:
    position = {r.name: i for i, r in enumerate(registry.rules())}
    for r in registry.rules():
        for o in r.spec.before:
            assert position[r.name] < position[o.rule], (r.name, o)
        for o in r.spec.after:
            assert position[o.rule] < position[r.name], (r.name, o)
        assert all(o.reason.strip() for o in (*r.spec.before, *r.spec.after)), r.name


def test_conflict_detection_sees_an_undeclared_overlap() -> None:
    """The check itself: two rewriting call hooks on one name prefix overlap."""
    a = Hook(CALL, prefixes=("keras.backend.",))
    b = Hook(CALL, names=("keras.backend.dot",))
    c = Hook(CALL, methods=("fit",))
    d = Hook(CALL, unresolved=True)
    assert registry._overlap(a, b) and registry._overlap(c, d)
    assert not registry._overlap(a, c) and not registry._overlap(b, d)


def test_prefilter_words_come_from_the_rules() -> None:
    words = registry.trigger_words()
    assert prefilter.METHOD_WORDS == words.methods
    assert prefilter.CALL_KEYWORDS == words.keywords
    assert prefilter.CLASS_WORDS == words.names
    # spot checks: one word of each kind, declared by the rule that needs it
    assert {"fit_generator", "add_weight", "lr", "save_weights"} <= words.methods
    assert {"nb_epoch", "workers"} <= words.keywords
    assert "LearningRateSchedule" in words.names


def test_dispatch_finds_hooks_by_name() -> None:
    d = registry.dispatch()
    assert [e.rule for e in d.call("keras.backend.batch_dot") if not e.hook.check][:2] == ["batch_dot", "backend"]
    assert "add_weight" in [e.rule for e in d.call_unresolved("add_weight")]
    assert "add_weight" not in [e.rule for e in d.call_unresolved("fit")]
    assert [e.rule for e in d.attribute("lr")] == ["optimizer_lr"]
    assert d.attribute("some_attribute") == ()


def test_specs_read_without_importing_rules_match_the_loaded_ones() -> None:
    """``migrate rules`` reads the SPECs from source (no libcst at start-up); they must be the real ones."""
    assert [(r.name, r.module, r.spec) for r in registry.declared()] == \
        [(r.name, r.module, r.spec) for r in registry.rules()]


def test_rules_listing_shows_module_and_hooks(capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from migrate.cli import main

    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "rules/batch_dot.py: call keras.backend.batch_dot; every assign [check] (before backend)" in out
    assert main(["rules", "--json"]) == 0
    data = {entry["id"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert data["KM402"]["module"] == "migrate.rewrite.rules.optimizer_lr"
    assert {"kind": "attribute", "methods": ["lr"]} in data["KM402"]["hooks"]
    assert all("module" in entry for entry in data.values())
